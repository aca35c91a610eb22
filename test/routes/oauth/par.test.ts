/**
 * Pushed authorization requests (RFC 9126) and signed request objects (RFC 9101): validation at
 * push time, single-use and expiring request_uri, the object's parameters winning, unsigned and
 * badly signed objects refused, PAR required per client, and the fapi2 profile's rules.
 */
import t from 'tap'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../../fixtures/browser.js'
import { assertion, clientKey, hmacSigned, jwksOf, requestObject, unsecured } from '../../fixtures/client_keys.js'
import { JWT_BEARER_ASSERTION } from '../../../src/domain/client_assertion.js'
import { PAR_URN_PREFIX, pushedRequestsRequired, requestReferenceId } from '../../../src/domain/pushed_authorization.js'
import { codeLifetime } from '../../../src/domain/sso.js'
import { metadata } from '../../../src/routes/well_known/discovery.js'
import { defaults } from '../../../src/config/defaults.js'

const CB = 'https://app.example/cb'
const app = await build(t)
const key = await clientKey('ES256')
const web = await createClient(app, { name: 'Web', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB, 'https://app.example/other'], scopes: ['openid', 'profile'], jwks: jwksOf(key) })
const strict = await createClient(app, { name: 'Strict', grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'], requirePushedAuthorizationRequests: true })
const { challenge, verifier } = pkce()
const base = { response_type: 'code', redirect_uri: CB, scope: 'openid', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' }

function push (form: Record<string, string>, authorization = web.basic) {
  return postForm(app, '/par', form, { authorization })
}

function loginRedirect (res: { statusCode: number, headers: Record<string, unknown> }): string | undefined {
  const location = String(res.headers.location ?? '')
  return res.statusCode === 303 && location.startsWith(`${ISSUER}/login?request=`) ? location : undefined
}

t.test('a pushed request: 201 with a request_uri URN, usable once at /authorize', async (t) => {
  const res = await push(base)
  t.equal(res.statusCode, 201, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const { request_uri: requestUri, expires_in: expiresIn } = res.json()
  t.ok(requestUri.startsWith(PAR_URN_PREFIX))
  t.equal(expiresIn, 60)
  // §4: other parameters are ignored, even a redirect_uri that is not registered.
  const first = await new Browser(app).get(authorizeURL({ client_id: web.client.id, request_uri: requestUri, redirect_uri: 'https://evil.example/cb', scope: 'nope' }))
  t.ok(loginRedirect(first), `to the login page: ${first.headers.location}`)
  const again = await new Browser(app).get(authorizeURL({ client_id: web.client.id, request_uri: requestUri }))
  t.equal(again.statusCode, 400, 'single use')
  t.match(again.body, /expired or was already used/)
  t.notOk(again.headers.location)
})

t.test('the whole code flow through PAR, and the code is bound to the pushed parameters', async (t) => {
  const alice = await createUser(app, 'alice-par')
  const { request_uri: requestUri } = (await push({ ...base, state: 'pushed-state' })).json()
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: web.client.id, request_uri: requestUri }))
  const callback = (await browser.signIn(page.res, alice.username, alice.password)).location!
  t.equal(callback.origin + callback.pathname, CB)
  t.equal(callback.searchParams.get('state'), 'pushed-state')
  t.equal(callback.searchParams.get('iss'), ISSUER)
  const tokens = await postForm(app, '/token', { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: CB, code_verifier: verifier }, { authorization: web.basic })
  t.equal(tokens.statusCode, 200, tokens.body)
})

t.test('push-time validation answers JSON errors (RFC 9126 §2.3)', async (t) => {
  const cases: Array<[Record<string, string>, string, number?]> = [
    [{ ...base, redirect_uri: 'https://evil.example/cb' }, 'invalid_request'],
    [{ ...base, scope: 'openid admin' }, 'invalid_scope'],
    [{ ...base, code_challenge_method: 'plain' }, 'invalid_request'],
    [{ ...base, response_type: 'token' }, 'unsupported_response_type'],
    [{ ...base, request_uri: `${PAR_URN_PREFIX}abc` }, 'invalid_request'],
    [{ ...base, request: unsecured({ iss: web.client.id, aud: ISSUER, client_id: web.client.id, exp: Math.floor(Date.now() / 1000) + 60, ...base }) }, 'invalid_request_object'],
  ]
  for (const [form, error, status] of cases) {
    const res = await push(form)
    t.equal(res.statusCode, status ?? 400, JSON.stringify(form))
    t.equal(res.json().error, error)
    t.equal(res.headers['cache-control'], 'no-store')
  }
  const anonymous = await postForm(app, '/par', { ...base, client_id: web.client.id })
  t.equal(anonymous.statusCode, 401, 'a confidential client must authenticate')
  const otherClient = await push({ ...base, client_id: strict.client.id })
  t.equal(otherClient.statusCode, 400, 'client_id must be the authenticated client')
})

t.test('request_uri: expired, another client\'s, or not one Stamp issued', async (t) => {
  const expired = `${PAR_URN_PREFIX}expired-reference`
  await app.pushedAuthorizations.create({ id: requestReferenceId(expired)!, clientId: web.client.id, parameters: { ...Object.fromEntries(Object.entries(base).map(([k, v]) => [k, [v]])), client_id: [web.client.id] }, expiresAt: new Date(Date.now() - 1000) })
  const res = await new Browser(app).get(authorizeURL({ client_id: web.client.id, request_uri: expired }))
  t.equal(res.statusCode, 400)
  t.match(res.body, /expired or was already used/)

  const { request_uri: requestUri } = (await push(base)).json()
  const stolen = await new Browser(app).get(authorizeURL({ client_id: strict.client.id, request_uri: requestUri }))
  t.equal(stolen.statusCode, 400, 'another client cannot use it')
  t.ok(loginRedirect(await new Browser(app).get(authorizeURL({ client_id: web.client.id, request_uri: requestUri }))), 'and it was not consumed by that attempt')

  const foreign = await new Browser(app).get(authorizeURL({ ...base, client_id: web.client.id, request_uri: 'https://app.example/req.jwt' }))
  t.equal(new URL(String(foreign.headers.location)).searchParams.get('error'), 'request_uri_not_supported')
})

t.test('a client that must push: /authorize without PAR is refused, with PAR it works', async (t) => {
  const direct = await new Browser(app).get(authorizeURL({ ...base, client_id: strict.client.id }))
  const error = new URL(String(direct.headers.location))
  t.equal(error.searchParams.get('error'), 'invalid_request')
  t.match(error.searchParams.get('error_description'), /push/)
  const pushed = await push(base, strict.basic)
  t.equal(pushed.statusCode, 201)
  t.ok(loginRedirect(await new Browser(app).get(authorizeURL({ client_id: strict.client.id, request_uri: pushed.json().request_uri }))))
  // The global setting.
  t.equal(pushedRequestsRequired(web.client, { pushedAuthorizationRequests: { required: true, ttl: 60 } }), true)
  t.equal(pushedRequestsRequired(web.client, defaults), false)
  t.equal(metadata({ issuer: ISSUER, pushRequired: true }, ['RS256']).require_pushed_authorization_requests, true)
})

t.test('JAR: the signed object\'s parameters are the request; unsigned and badly signed ones are refused', async (t) => {
  const signed = await requestObject(key, web.client.id, ISSUER, { ...base, redirect_uri: 'https://app.example/other', state: 'from-object' })
  // Outer parameters other than client_id are ignored (RFC 9101 §5): an unregistered outer redirect_uri changes nothing.
  const res = await new Browser(app).get(authorizeURL({ client_id: web.client.id, request: signed, redirect_uri: 'https://evil.example/cb', scope: 'admin' }))
  t.ok(loginRedirect(res), `signed object accepted: ${res.statusCode} ${res.headers.location ?? res.body.slice(0, 300)}`)
  const parked = await app.pendingAuthorizations.find(new URL(String(res.headers.location)).searchParams.get('request')!, new Date())
  t.equal(parked?.redirectUri, 'https://app.example/other', 'the object\'s redirect_uri')
  t.equal(parked?.state, 'from-object')

  const now = Math.floor(Date.now() / 1000)
  const claims = { iss: web.client.id, aud: ISSUER, client_id: web.client.id, exp: now + 60, ...base }
  const stranger = await clientKey('ES256', key.kid)
  const cases: Array<[string, string | Promise<string>, RegExp]> = [
    ['unsigned', unsecured(claims), /invalid_request_object.*unsigned/],
    ['HS256', hmacSigned(claims, 'guess'), /invalid_request_object.*algorithm/],
    ['wrong aud', requestObject(key, web.client.id, 'https://other.example', base), /aud/],
    ['wrong iss', requestObject(key, web.client.id, ISSUER, base, { iss: 'someone' }), /iss/],
    ['client_id mismatch', requestObject(key, web.client.id, ISSUER, base, { client_id: strict.client.id }), /client_id/],
    ['expired', requestObject(key, web.client.id, ISSUER, base, { exp: now - 120 }), /expired/],
    ['no exp', requestObject(key, web.client.id, ISSUER, base, { exp: undefined }), /exp/],
    ['another key', requestObject(stranger, web.client.id, ISSUER, base), /signature/],
    ['nested request_uri', requestObject(key, web.client.id, ISSUER, { ...base, request_uri: `${PAR_URN_PREFIX}x` }), /must not contain request_uri/],
  ]
  for (const [name, jwt, description] of cases) {
    const refused = await new Browser(app).get(authorizeURL({ ...base, client_id: web.client.id, request: await jwt }))
    t.equal(refused.statusCode, 400, name)
    t.notOk(refused.headers.location, `${name}: never redirected`)
    t.match(refused.body, description, name)
  }
  const noKeys = await new Browser(app).get(authorizeURL({ ...base, client_id: strict.client.id, request: await requestObject(key, strict.client.id, ISSUER, base) }))
  t.equal(noKeys.statusCode, 400, 'a client without registered keys cannot send request objects')
})

t.test('JAR inside PAR', async (t) => {
  const signed = await requestObject(key, web.client.id, ISSUER, { ...base, state: 'jar-in-par' })
  const res = await push({ request: signed, client_id: web.client.id })
  t.equal(res.statusCode, 201, res.body)
  const authorized = await new Browser(app).get(authorizeURL({ client_id: web.client.id, request_uri: res.json().request_uri }))
  const parked = await app.pendingAuthorizations.find(new URL(String(authorized.headers.location)).searchParams.get('request')!, new Date())
  t.equal(parked?.state, 'jar-in-par')
  const badAud = await push({ request: await requestObject(key, web.client.id, 'https://other.example', base) })
  t.equal(badAud.statusCode, 400)
  t.equal(badAud.json().error, 'invalid_request_object')
})

t.test('fapi2 profile: PAR, PKCE S256, redirect_uri at push, private_key_jwt with PS256/ES256/EdDSA and aud = issuer', async (t) => {
  const rs = await clientKey('RS256')
  const fapi = await createClient(app, {
    name: 'Bank app', secretHash: null, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid'],
    tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(key, rs), requirePkce: true, requirePushedAuthorizationRequests: true, profile: 'fapi2',
  })
  const id = fapi.client.id
  const auth = async (aud: string | string[] = ISSUER, signer = key) => ({ client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(signer, id, aud) })
  const pushFapi = async (form: Record<string, string>, aud?: string | string[], signer = key) => postForm(app, '/par', { ...form, ...await auth(aud, signer) })

  const direct = await new Browser(app).get(authorizeURL({ ...base, client_id: id }))
  t.equal(new URL(String(direct.headers.location)).searchParams.get('error'), 'invalid_request', 'no PAR: refused')
  const noPkce = await pushFapi({ response_type: 'code', redirect_uri: CB, scope: 'openid' })
  t.equal(noPkce.statusCode, 400)
  t.match(noPkce.json().error_description, /PKCE|code challenge/)
  const noRedirect = await pushFapi({ ...base, redirect_uri: '' })
  t.equal(noRedirect.statusCode, 400)
  t.match(noRedirect.json().error_description, /redirect_uri is required/)
  const rsa = await pushFapi(base, ISSUER, rs)
  t.equal(rsa.statusCode, 401, 'RS256 is not a FAPI 2.0 algorithm')
  const audArray = await pushFapi(base, [ISSUER])
  t.equal(audArray.statusCode, 401, 'aud must be the issuer as a single string')
  const tokenAud = await pushFapi(base, `${ISSUER}/token`)
  t.equal(tokenAud.statusCode, 401, 'aud must be the issuer, not an endpoint')
  const ok = await pushFapi(base)
  t.equal(ok.statusCode, 201, ok.body)
  t.ok(loginRedirect(await new Browser(app).get(authorizeURL({ client_id: id, request_uri: ok.json().request_uri }))))
  t.equal(codeLifetime(fapi.client, 600), 60, 'codes live at most 60 s')
  t.equal(codeLifetime(web.client, 600), 600)
})

t.test('discovery: PAR endpoint, request objects by value, request_uri by reference only from /par', async (t) => {
  const doc = (await app.inject('/.well-known/openid-configuration')).json()
  t.equal(doc.pushed_authorization_request_endpoint, `${ISSUER}/par`)
  t.equal(doc.require_pushed_authorization_requests, false)
  t.equal(doc.request_parameter_supported, true)
  t.equal(doc.request_uri_parameter_supported, false)
  t.same(doc.request_object_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA'])
})
