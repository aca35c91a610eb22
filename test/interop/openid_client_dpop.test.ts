/**
 * DPoP end to end with a certified client library: openid-client 6 signs the proofs (ES256) for
 * client_credentials, the code flow with `dpop_jkt`, a public client's refresh with the same key,
 * and /userinfo, against Stamp listening on 127.0.0.1; then the server-nonce flow (DPOP_NONCE),
 * which openid-client answers by retrying with the nonce it was given.
 *
 * @module
 */
import t from 'tap'
import * as oidc from 'openid-client'
import { decodeJwt } from 'jose'
import { build, createClient, createUser, postForm } from '../helper.js'
import { freePort } from '../fixtures/process.js'
import { Browser } from '../fixtures/browser.js'
import { dpopKey, proof } from '../fixtures/dpop.js'

const insecure = { execute: [oidc.allowInsecureRequests] }
const CALLBACK = 'http://127.0.0.1:9/callback'

async function stamp (t: Parameters<typeof build>[0], env: Record<string, string> = {}) {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = await build(t, { env: { ISSUER: issuer, ...env } })
  await app.listen({ port, host: '127.0.0.1' })
  return { app, issuer }
}

/** The OAuth error code a rejected openid-client call surfaces. */
async function errorOf (promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(() => undefined, (err: { error?: string }) => err.error ?? String(err))
}

/** The code flow in a scripted browser; returns the callback URL with the code. */
async function authorize (browser: Browser, config: oidc.Configuration, username: string, password: string, extra: Record<string, string>) {
  const verifier = oidc.randomPKCECodeVerifier()
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK, scope: 'openid profile offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  })
  const page = await browser.follow(url.href)
  const callback = page.location ?? (await browser.signIn(page.res, username, password)).location
  if (!callback) throw new Error(`no callback: ${page.res.statusCode} ${page.res.body.slice(0, 200)}`)
  return { callback, verifier }
}

t.test('client_credentials, the code flow with dpop_jkt, refresh and /userinfo', async (t) => {
  const { app, issuer } = await stamp(t)
  const service = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['read'], dpopBoundAccessTokens: true })
  const spa = await createClient(app, {
    public: true, firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scopes: ['openid', 'profile', 'offline_access'], requirePkce: true,
  })
  const ada = await createUser(app, 'ada')

  // client_credentials: a confidential client that registered dpop_bound_access_tokens.
  const serviceConfig = await oidc.discovery(new URL(issuer), service.client.id, service.secret!, oidc.ClientSecretBasic(service.secret!), insecure)
  t.same(serviceConfig.serverMetadata().dpop_signing_alg_values_supported, ['ES256', 'RS256', 'PS256', 'EdDSA'])
  const serviceKey = await oidc.randomDPoPKeyPair('ES256')
  const serviceDPoP = oidc.getDPoPHandle(serviceConfig, serviceKey)
  const cc = await oidc.clientCredentialsGrant(serviceConfig, { scope: 'read' }, { DPoP: serviceDPoP })
  t.equal(cc.token_type, 'dpop', 'token_type DPoP (openid-client lower-cases it)')
  t.same(decodeJwt(cc.access_token).cnf, { jkt: await serviceDPoP.calculateThumbprint() })
  t.equal(await errorOf(oidc.clientCredentialsGrant(serviceConfig, { scope: 'read' })), 'invalid_dpop_proof', 'the client must use DPoP')
  const introspected = await oidc.tokenIntrospection(serviceConfig, cc.access_token)
  t.equal(introspected.active, true)
  t.equal(introspected.token_type, 'DPoP')
  t.same(introspected.cnf, { jkt: await serviceDPoP.calculateThumbprint() }, 'introspection returns cnf (RFC 9449 §6.2)')

  // The code flow: dpop_jkt binds the code (§10), the tokens come out bound.
  const config = await oidc.discovery(new URL(issuer), spa.client.id, undefined, oidc.None(), insecure)
  const key = await oidc.randomDPoPKeyPair('ES256')
  const DPoP = oidc.getDPoPHandle(config, key)
  const jkt = await DPoP.calculateThumbprint()
  const browser = new Browser(app, issuer)
  const { callback, verifier } = await authorize(browser, config, 'ada', ada.password, { dpop_jkt: jkt })
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, idTokenExpected: true }, undefined, { DPoP })
  t.equal(tokens.token_type, 'dpop')
  t.same(decodeJwt(tokens.access_token).cnf, { jkt })
  t.same(decodeJwt(tokens.refresh_token!).cnf, { jkt }, 'a public client\'s refresh token is bound to the key (§5)')

  // /userinfo with Authorization: DPoP and a proof carrying ath.
  const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP })
  t.equal(info.preferred_username, 'ada')
  const asBearer = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(asBearer.statusCode, 401, 'a DPoP-bound token is not a bearer token')
  t.match(asBearer.headers['www-authenticate'], /^Bearer realm="stamp", error="invalid_token"/)
  t.match(asBearer.headers['www-authenticate'], /DPoP algs="ES256 RS256 PS256 EdDSA"/)

  // Refresh with the same key: bound again, rotated.
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP })
  t.equal(refreshed.token_type, 'dpop')
  t.same(decodeJwt(refreshed.access_token).cnf, { jkt })
  t.same(decodeJwt(refreshed.refresh_token!).cnf, { jkt }, 'the successor stays bound')

  // Another key, or no proof at all: invalid_grant, and nothing is consumed.
  const thief = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  t.equal(await errorOf(oidc.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP: thief })), 'invalid_grant', 'refresh with another DPoP key')
  t.equal(await errorOf(oidc.refreshTokenGrant(config, refreshed.refresh_token!)), 'invalid_grant', 'refresh without a proof')
  const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token!, undefined, { DPoP })
  t.ok(again.access_token, 'the right key still refreshes: the refused attempts consumed nothing')
})

t.test('a code bound with dpop_jkt is only exchanged with that key', async (t) => {
  const { app, issuer } = await stamp(t)
  const spa = await createClient(app, { public: true, firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scopes: ['openid', 'profile', 'offline_access'], requirePkce: true })
  const bob = await createUser(app, 'bob')
  const config = await oidc.discovery(new URL(issuer), spa.client.id, undefined, oidc.None(), insecure)
  const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  const browser = new Browser(app, issuer)
  const bound = await authorize(browser, config, 'bob', bob.password, { dpop_jkt: await DPoP.calculateThumbprint() })
  const other = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  t.equal(await errorOf(oidc.authorizationCodeGrant(config, bound.callback, { pkceCodeVerifier: bound.verifier }, undefined, { DPoP: other })), 'invalid_grant', 'jkt mismatch')
  t.equal(await errorOf(oidc.authorizationCodeGrant(config, bound.callback, { pkceCodeVerifier: bound.verifier })), 'invalid_grant', 'no proof')
  const tokens = await oidc.authorizationCodeGrant(config, bound.callback, { pkceCodeVerifier: bound.verifier }, undefined, { DPoP })
  t.equal(tokens.token_type, 'dpop', 'the refused attempts did not burn the code')

  // A malformed dpop_jkt goes back to the client as invalid_request.
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', dpop_jkt: 'not-a-thumbprint' })
  const res = await browser.follow(url.href)
  t.equal(res.location?.searchParams.get('error'), 'invalid_request')
})

t.test('a confidential client: the refresh token is not bound, each access token is bound to its proof', async (t) => {
  const { app, issuer } = await stamp(t)
  const webapp = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, 'cleo', 'correct horse battery staple', ['read'])
  const config = await oidc.discovery(new URL(issuer), webapp.client.id, webapp.secret!, oidc.ClientSecretBasic(webapp.secret!), insecure)
  const first = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  const pair = await oidc.genericGrantRequest(config, 'password', { username, password }, { DPoP: first })
  t.same(decodeJwt(pair.access_token).cnf, { jkt: await first.calculateThumbprint() })
  t.equal(decodeJwt(pair.refresh_token!).cnf, undefined, 'RFC 9449 §5: a confidential client\'s refresh token is not bound')
  const second = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  const refreshed = await oidc.refreshTokenGrant(config, pair.refresh_token!, undefined, { DPoP: second })
  t.same(decodeJwt(refreshed.access_token).cnf, { jkt: await second.calculateThumbprint() }, 'the new access token is bound to the new proof\'s key')
})

t.test('server nonces (DPOP_NONCE=true): use_dpop_nonce, then the retry succeeds', async (t) => {
  const { app, issuer } = await stamp(t, { DPOP_NONCE: 'true' })
  const service = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['openid', 'read'] })
  const spa = await createClient(app, { public: true, firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scopes: ['openid', 'profile', 'offline_access'], requirePkce: true })
  const dora = await createUser(app, 'dora')

  // A crafted proof without a nonce: 400 use_dpop_nonce and the nonce to use.
  const key = await dpopKey()
  const res = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic, dpop: await proof(key, { htu: `${issuer}/token` }) })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'use_dpop_nonce')
  const nonce = res.headers['dpop-nonce'] as string
  t.match(nonce, /^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/)
  const forged = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic, dpop: await proof(key, { htu: `${issuer}/token`, nonce: nonce.replace(/.$/, (c) => c === 'A' ? 'B' : 'A') }) })
  t.equal(forged.json().error, 'use_dpop_nonce', 'a forged nonce is refused')
  const ok = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic, dpop: await proof(key, { htu: `${issuer}/token`, nonce }) })
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.headers['dpop-nonce'], nonce, 'the response carries the current nonce')
  // Without DPoP nothing changes.
  t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic })).json().token_type, 'Bearer')

  // openid-client: the code flow, refresh and /userinfo; each first request learns the nonce.
  const config = await oidc.discovery(new URL(issuer), spa.client.id, undefined, oidc.None(), insecure)
  const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  const { callback, verifier } = await authorize(new Browser(app, issuer), config, 'dora', dora.password, { dpop_jkt: await DPoP.calculateThumbprint() })
  const exchange = () => oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier }, undefined, { DPoP })
  // openid-client retries once itself after use_dpop_nonce, with the nonce from DPoP-Nonce.
  const tokens = await exchange()
  t.equal(tokens.token_type, 'dpop')
  const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub, { DPoP })
  t.equal(info.preferred_username, 'dora')
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP })
  t.equal(refreshed.token_type, 'dpop')

  // /userinfo: a proof without the nonce gets 401 with the DPoP challenge (RFC 9449 §9).
  const noNonce = await app.inject({ url: '/userinfo', headers: { authorization: `DPoP ${refreshed.access_token}`, dpop: await proof(key, { htm: 'GET', htu: `${issuer}/userinfo`, accessToken: refreshed.access_token }) } })
  t.equal(noNonce.statusCode, 401)
  t.match(noNonce.headers['www-authenticate'], /DPoP algs="[^"]+", error="use_dpop_nonce"/)
  t.ok(noNonce.headers['dpop-nonce'])
})
