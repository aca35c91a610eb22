import t from 'tap'
import { build, createClient } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../../fixtures/browser.js'

const CB = 'https://app.example/cb'
const app = await build(t)
const confidential = await createClient(app, { name: 'Conf', grantTypes: ['authorization_code'], redirectUris: [CB, 'https://app.example/other'], scopes: ['openid', 'profile'] })
const publicClient = await createClient(app, { name: 'SPA', public: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
const machine = await createClient(app, { name: 'Machine', redirectUris: [CB], scopes: ['openid'] })
const { challenge } = pkce()

async function authorize (params: Record<string, string | undefined>) {
  return new Browser(app).get(authorizeURL(params))
}

function errorAt (location: string | string[] | undefined) {
  const url = new URL(String(location))
  return { base: url.origin + url.pathname, error: url.searchParams.get('error'), description: url.searchParams.get('error_description'), state: url.searchParams.get('state'), iss: url.searchParams.get('iss') }
}

t.test('unknown client → HTML error page at Stamp, never a redirect', async (t) => {
  const res = await authorize({ client_id: 'nope', redirect_uri: CB, response_type: 'code' })
  t.equal(res.statusCode, 400)
  t.notOk(res.headers.location)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /not registered/)
  t.equal(res.headers['x-frame-options'], 'DENY')
})

t.test('missing client_id → error page', async (t) => {
  const res = await authorize({ redirect_uri: CB, response_type: 'code' })
  t.equal(res.statusCode, 400)
  t.notOk(res.headers.location)
})

t.test('unregistered redirect_uri → error page, not a redirect', async (t) => {
  for (const redirect of ['https://evil.example/cb', CB + '/', CB + '?x=1', 'https://APP.example/cb']) {
    const res = await authorize({ client_id: confidential.client.id, redirect_uri: redirect, response_type: 'code' })
    t.equal(res.statusCode, 400, redirect)
    t.notOk(res.headers.location, `no redirect to ${redirect}`)
  }
  const missing = await authorize({ client_id: confidential.client.id, response_type: 'code' })
  t.equal(missing.statusCode, 400, 'redirect_uri required with several registered')
  t.notOk(missing.headers.location)
})

t.test('escaping on the error page', async (t) => {
  const res = await authorize({ client_id: '<script>alert(1)</script>', redirect_uri: CB })
  t.notMatch(res.body, /<script>/)
})

t.test('errors after the redirect URI is known go back to it with state and iss', async (t) => {
  const cases: Array<[Record<string, string>, string, RegExp?]> = [
    [{ client_id: publicClient.client.id, response_type: 'code' }, 'invalid_request', /PKCE is required/],
    [{ client_id: publicClient.client.id, response_type: 'code', code_challenge: challenge, code_challenge_method: 'plain' }, 'invalid_request', /S256/],
    [{ client_id: publicClient.client.id, response_type: 'code', code_challenge: challenge }, 'invalid_request', /S256/],
    [{ client_id: publicClient.client.id, response_type: 'code', code_challenge: 'short', code_challenge_method: 'S256' }, 'invalid_request', /malformed/],
    [{ client_id: confidential.client.id, response_type: 'token' }, 'unsupported_response_type'],
    [{ client_id: confidential.client.id, response_type: 'code id_token' }, 'unsupported_response_type'],
    [{ client_id: confidential.client.id }, 'invalid_request', /response_type/],
    [{ client_id: confidential.client.id, response_type: 'code', scope: 'openid admin' }, 'invalid_scope'],
    [{ client_id: confidential.client.id, response_type: 'code', response_mode: 'fragment' }, 'invalid_request'],
    [{ client_id: confidential.client.id, response_type: 'code', prompt: 'none login' }, 'invalid_request'],
    [{ client_id: confidential.client.id, response_type: 'code', max_age: '-1' }, 'invalid_request'],
    // Request objects are supported now (test/routes/oauth/jar.test.ts); a request_uri Stamp did not issue is not.
    [{ client_id: confidential.client.id, response_type: 'code', request_uri: 'https://app.example/request.jwt' }, 'request_uri_not_supported'],
    [{ client_id: machine.client.id, response_type: 'code' }, 'unauthorized_client'],
  ]
  for (const [params, error, description] of cases) {
    const res = await authorize({ redirect_uri: CB, state: 'xyz', ...params })
    t.equal(res.statusCode, 303, JSON.stringify(params))
    const got = errorAt(res.headers.location)
    t.equal(got.base, CB)
    t.equal(got.error, error, JSON.stringify(params))
    if (description) t.match(got.description, description)
    t.equal(got.state, 'xyz')
    t.equal(got.iss, ISSUER)
  }
})

t.test('a repeated parameter is invalid_request', async (t) => {
  const res = await new Browser(app).get(`${ISSUER}/authorize?client_id=${confidential.client.id}&redirect_uri=${encodeURIComponent(CB)}&response_type=code&scope=openid&scope=profile`)
  t.equal(errorAt(res.headers.location).error, 'invalid_request')
  const dupRedirect = await new Browser(app).get(`${ISSUER}/authorize?client_id=${confidential.client.id}&redirect_uri=${encodeURIComponent(CB)}&redirect_uri=${encodeURIComponent(CB)}&response_type=code`)
  t.equal(dupRedirect.statusCode, 400, 'a repeated redirect_uri is an error page')
  t.notOk(dupRedirect.headers.location)
})

t.test('the client redirect URI keeps its own query', async (t) => {
  const withQuery = await createClient(app, { grantTypes: ['authorization_code'], redirectUris: ['https://app.example/cb?tenant=7'], scopes: ['openid'] })
  const res = await authorize({ client_id: withQuery.client.id, redirect_uri: 'https://app.example/cb?tenant=7', response_type: 'code', prompt: 'none' })
  const url = new URL(String(res.headers.location))
  t.equal(url.searchParams.get('tenant'), '7')
  t.equal(url.searchParams.get('error'), 'login_required')
})

t.test('POST /authorize works like GET', async (t) => {
  const res = await new Browser(app).post(`${ISSUER}/authorize`, { client_id: publicClient.client.id, redirect_uri: CB, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' })
  t.equal(res.statusCode, 303)
  t.match(res.headers.location, /^http:\/\/stamp\.test\/login\?request=/)
})

t.test('a login page for an unknown or expired request is an error page', async (t) => {
  const res = await new Browser(app).get(`${ISSUER}/login?request=nope`)
  t.equal(res.statusCode, 400)
  t.match(res.body, /expired/)
})
