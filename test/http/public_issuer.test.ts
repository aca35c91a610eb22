import t from 'tap'
import { build, createClient, createTestDatabase, createUser, postForm } from '../helper.js'
import { Browser, authorizeURL, hiddenFields, pkce } from '../fixtures/browser.js'
import { loadConfig, parseTrustProxy } from '../../src/config/env.js'
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose'

/** The app with the test defaults, but without ISSUER. */
async function buildWithoutIssuer (t: Parameters<typeof build>[0], env: Record<string, string>) {
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', KEY_ENCRYPTION_KEY: 'a'.repeat(43), ...env })
  return build(t, { databaseUrl, config })
}

const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com', 'x-forwarded-for': '203.0.113.7' }

t.test('ISSUER set: forwarded headers never change an emitted URL', async (t) => {
  const app = await build(t, { env: { TRUST_PROXY: 'true', ISSUER: 'https://id.example.org' } })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: forwarded })).json()
  t.equal(doc.issuer, 'https://id.example.org')
  t.equal(doc.token_endpoint, 'https://id.example.org/token')
})

t.test('no ISSUER, trusted proxy: the issuer is the forwarded https origin, in discovery and in tokens', async (t) => {
  const app = await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1' })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: forwarded, remoteAddress: '127.0.0.1' })).json()
  t.equal(doc.issuer, 'https://auth.example.com')
  t.equal(doc.jwks_uri, 'https://auth.example.com/jwks')
  const { basic } = await createClient(app, { audiences: [] })
  const res = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: basic, ...forwarded })
  t.equal(decodeJwt(res.json().access_token).iss, 'https://auth.example.com')
  t.equal(decodeJwt(res.json().access_token).aud, 'https://auth.example.com')
})

t.test('no ISSUER, untrusted peer: forwarded headers (and Host) are ignored', async (t) => {
  const app = await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1', PORT: '4000' })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: { ...forwarded, host: 'evil.example' }, remoteAddress: '198.51.100.9' })).json()
  t.equal(doc.issuer, 'http://localhost:4000')
})

t.test('TRUST_PROXY off: forwarded headers are ignored', async (t) => {
  const app = await buildWithoutIssuer(t, {})
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: forwarded, remoteAddress: '127.0.0.1' })).json()
  t.match(doc.issuer, /^http:\/\/localhost:/)
})

t.test('TRUST_PROXY parsing', async (t) => {
  t.equal(parseTrustProxy('false'), false)
  t.equal(parseTrustProxy('true'), true)
  t.equal(parseTrustProxy('2'), 2)
  t.same(parseTrustProxy('127.0.0.1, 10.0.0.0/8,uniquelocal,::1'), ['127.0.0.1', '10.0.0.0/8', 'uniquelocal', '::1'])
  t.throws(() => parseTrustProxy('10.0.0.0/33'), /TRUST_PROXY/)
  t.throws(() => parseTrustProxy('proxy.internal'), /TRUST_PROXY/)
  t.equal(loadConfig({ TRUST_PROXY: '127.0.0.1' }).issuerFromProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: '127.0.0.1', ISSUER: 'https://a.example' }).issuerFromProxy, false)
  t.equal(loadConfig({}).shutdownTimeout, 10)
  t.throws(() => loadConfig({ SHUTDOWN_TIMEOUT: '0' }), /SHUTDOWN_TIMEOUT/)
})

t.test('no ISSUER, trusted proxy: single sign-on follows the forwarded issuer', async (t) => {
  const PUBLIC = 'https://id.example.com'
  const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.com' }
  const delivered: string[] = []
  const fetch = (async (_uri: string, init: { body: string }) => {
    delivered.push(new URLSearchParams(init.body).get('logout_token')!)
    return new Response(null, { status: 200 })
  }) as unknown as typeof globalThis.fetch
  const databaseUrl = await createTestDatabase(t)
  const app = await build(t, { databaseUrl, config: loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', KEY_ENCRYPTION_KEY: 'a'.repeat(43), TRUST_PROXY: '127.0.0.1' }), fetch, lookup: async () => [{ address: '192.0.2.10', family: 4 }] })
  const APP = 'https://app.example/cb'
  const a = await createClient(app, {
    name: 'Partner', grantTypes: ['authorization_code'], redirectUris: [APP], postLogoutRedirectUris: ['https://app.example/bye'],
    backchannelLogoutUri: 'https://app.example/backchannel', scopes: ['openid', 'profile'],
  })
  const alice = await createUser(app, 'alice')
  const browser = new Browser(app, PUBLIC, headers)
  const { verifier, challenge } = pkce()

  const start = await browser.follow(authorizeURL({
    client_id: a.client.id, redirect_uri: APP, response_type: 'code', scope: 'openid profile', state: 's1', nonce: 'n1', code_challenge: challenge, code_challenge_method: 'S256',
  }, PUBLIC))
  t.equal(start.res.statusCode, 200, 'redirected to the login page under the public issuer')
  t.match(start.res.body, /<form method="post" action="https:\/\/id\.example\.com\/login"/)
  const signedIn = await browser.post(`${PUBLIC}/login`, { ...hiddenFields(start.res.body), username: 'alice', password: alice.password })
  // https at path /: __Host- names (issue 11 item 7); the binding cookie is rotated at sign-in too.
  t.match(String(signedIn.headers['set-cookie']), /^__Host-stamp_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure,__Host-stamp_browser=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/, 'session cookie is Secure')
  t.match(String(signedIn.headers.location), /^https:\/\/id\.example\.com\/consent\?request=/)
  const consent = await browser.follow(String(signedIn.headers.location))
  t.match(consent.res.body, /action="https:\/\/id\.example\.com\/consent"/, 'consent form posts to the public issuer')
  const done = await browser.follow(`${PUBLIC}/consent`, { ...hiddenFields(consent.res.body), decision: 'allow' })
  const location = done.location!
  t.equal(location.origin + location.pathname, APP)
  t.equal(location.searchParams.get('iss'), PUBLIC, 'RFC 9207 iss is the public issuer')
  t.equal(location.searchParams.get('state'), 's1')

  // A fresh browser: the binding cookie is Secure too, and /authorize redirects under the public issuer.
  const plain = await app.inject({ url: authorizeURL({ client_id: a.client.id, redirect_uri: APP, response_type: 'code', scope: 'openid' }, ''), headers })
  t.match(String(plain.headers['set-cookie']), /^__Host-stamp_browser=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/, 'browser cookie is Secure')
  t.match(String(plain.headers.location), /^https:\/\/id\.example\.com\/login\?request=/)

  const tokenRes = await postForm(app, '/token', { grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: APP, code_verifier: verifier }, { authorization: a.basic, ...headers })
  t.equal(tokenRes.statusCode, 200, tokenRes.body)
  const tokens = tokenRes.json()
  const jwks = createLocalJWKSet((await app.inject({ url: '/jwks', headers })).json())
  const { payload: id } = await jwtVerify(tokens.id_token, jwks, { issuer: PUBLIC, audience: a.client.id })
  t.equal(id.nonce, 'n1')

  const info = await app.inject({ url: '/userinfo', headers: { ...headers, authorization: `Bearer ${tokens.access_token}` } })
  t.equal(info.statusCode, 200, info.body)
  t.equal(info.json().sub, alice.user.id)
  const direct = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(direct.statusCode, 401, 'the token is not accepted under another issuer')

  const logout = await browser.request('GET', `${PUBLIC}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://app.example/bye', state: 'bye' })}`)
  t.equal(logout.statusCode, 303, 'the id_token_hint is accepted: logged out at once')
  t.equal(logout.headers.location, 'https://app.example/bye?state=bye')
  t.match(String(logout.headers['set-cookie']), /^__Host-stamp_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Secure$/)
  await app.backchannelLogout.drain()
  t.equal(delivered.length, 1, 'back-channel logout sent')
  t.equal(decodeJwt(delivered[0]).iss, PUBLIC, 'logout token issued by the public issuer')
  t.equal(decodeJwt(delivered[0]).sid, id.sid)
})
