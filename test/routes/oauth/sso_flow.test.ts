import t from 'tap'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields, pkce } from '../../fixtures/browser.js'
import { atHash } from '../../../src/domain/tokens.js'

const APP_A = 'https://app-a.example/callback'
const APP_B = 'https://app-b.example/cb'

async function setup (t: { teardown(fn: () => unknown): void }) {
  const app = await build(t)
  const a = await createClient(app, {
    name: 'App A', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [APP_A],
    postLogoutRedirectUris: ['https://app-a.example/bye'], scopes: ['openid', 'profile', 'email', 'offline_access', 'read'],
  })
  const b = await createClient(app, {
    name: 'App B', public: true, firstParty: true, grantTypes: ['authorization_code'], redirectUris: [APP_B], scopes: ['openid', 'profile'],
  })
  const alice = await createUser(app, 'alice')
  return { app, a, b, alice }
}

async function exchange (app: FastifyInstance, form: Record<string, string>, headers: Record<string, string> = {}) {
  return postForm(app, '/token', { grant_type: 'authorization_code', ...form }, headers)
}

t.test('full flow: login → code → tokens → userinfo → refresh → logout', async (t) => {
  const { app, a, alice } = await setup(t)
  const browser = new Browser(app)
  const { verifier, challenge } = pkce()

  const start = await browser.follow(authorizeURL({
    client_id: a.client.id, redirect_uri: APP_A, response_type: 'code', scope: 'openid profile email offline_access',
    state: 'st&ate=1', nonce: 'n-0S6', code_challenge: challenge, code_challenge_method: 'S256', login_hint: 'alice',
  }))
  t.equal(start.res.statusCode, 200, 'login page shown')
  t.match(start.res.headers['content-type'], /text\/html/)
  t.match(start.res.body, /name="username"[^>]*value="alice"/, 'login_hint prefills the username')
  t.match(start.res.body, /to continue to <strong>App A<\/strong>/)
  const csp = String(start.res.headers['content-security-policy'])
  t.match(csp, /frame-ancestors 'none'/)
  t.match(csp, /form-action 'self' https:\/\/app-a\.example/)
  t.match(csp, /style-src 'self'/, 'the stylesheet is a served file: no inline style')
  t.match(csp, /script-src 'self'/, 'no inline script')
  t.notMatch(start.res.body, /<script(?![^>]*\ssrc="[^"]*\/static\/)/i, 'no inline script: only the static passkey scripts')
  t.equal(start.res.headers['x-frame-options'], 'DENY')
  t.equal(start.res.headers['referrer-policy'], 'no-referrer')
  t.match(String(browser.cookies.get('stamp_browser')), /^[A-Za-z0-9_-]{43}$/, 'browser binding cookie set')

  const wrong = await browser.signIn(start.res, 'alice', 'nope')
  t.equal(wrong.res.statusCode, 401)
  t.match(wrong.res.body, /Incorrect username or password/)
  const unknown = await browser.signIn(start.res, 'mallory', 'nope')
  t.equal(unknown.res.statusCode, 401)
  t.match(unknown.res.body, /Incorrect username or password/, 'an unknown user gets the same message')

  const done = await browser.signIn(start.res, 'alice', alice.password)
  t.ok(done.location, 'redirected back to the app')
  const location = done.location!
  t.equal(location.origin + location.pathname, APP_A)
  t.equal(location.searchParams.get('state'), 'st&ate=1', 'state returned untouched')
  t.equal(location.searchParams.get('iss'), ISSUER, 'RFC 9207 iss')
  const code = location.searchParams.get('code')!
  t.ok(code.length >= 43, 'code has at least 256 bits')
  const sessionCookie = done.res.headers['set-cookie']
  t.match(String(sessionCookie), /stamp_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax/)
  t.notMatch(String(sessionCookie), /Secure/, 'no Secure flag on an http issuer')

  const tokenRes = await exchange(app, { code, redirect_uri: APP_A, code_verifier: verifier }, { authorization: a.basic })
  t.equal(tokenRes.statusCode, 200, tokenRes.body)
  const tokens = tokenRes.json()
  t.equal(tokens.scope, 'openid profile email offline_access')
  t.ok(tokens.refresh_token)
  t.ok(tokens.id_token)

  const jwks = createLocalJWKSet((await app.inject('/jwks')).json())
  const { payload: id, protectedHeader } = await jwtVerify(tokens.id_token, jwks, { issuer: ISSUER, audience: a.client.id, typ: 'JWT' })
  t.equal(protectedHeader.typ, 'JWT')
  t.equal(id.sub, alice.user.id)
  t.equal(id.nonce, 'n-0S6')
  t.equal(id.at_hash, atHash(tokens.access_token, protectedHeader.alg))
  t.type(id.auth_time, 'number')
  t.type(id.sid, 'string')
  t.equal(id.preferred_username, 'alice')
  t.equal(id.email, 'alice@example.com')
  const { payload: at } = await jwtVerify(tokens.access_token, jwks, { issuer: ISSUER, typ: 'at+jwt' })
  t.equal(at.sid, id.sid, 'access token carries the session id')
  t.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt')

  const info = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } })
  t.equal(info.statusCode, 200)
  t.same(info.json(), { sub: alice.user.id, preferred_username: 'alice', name: 'alice', email: 'alice@example.com', email_verified: false })

  const refreshed = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: a.basic })
  t.equal(refreshed.statusCode, 200)
  const second = refreshed.json()

  const logout = await browser.request('GET', `${ISSUER}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://app-a.example/bye', state: 'bye-1' })}`)
  t.equal(logout.statusCode, 303, 'a hint naming the current session logs out at once')
  t.equal(logout.headers.location, 'https://app-a.example/bye?state=bye-1')
  t.notOk(browser.cookies.has('stamp_session'), 'session cookie cleared')

  const afterRefresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: second.refresh_token }, { authorization: a.basic })
  t.equal(afterRefresh.statusCode, 400, 'the refresh family of the session is revoked')
  t.equal(afterRefresh.json().error, 'invalid_grant')
  const afterInfo = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${second.access_token}` } })
  t.equal(afterInfo.statusCode, 401, 'userinfo refuses tokens of an ended session')
  t.match(afterInfo.headers['www-authenticate'], /error="invalid_token"/)

  const again = await browser.follow(authorizeURL({ client_id: a.client.id, redirect_uri: APP_A, response_type: 'code', scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' }))
  t.equal(again.res.statusCode, 200, 'after logout the login page is shown again')
  t.match(again.res.body, /name="password"/)
})

t.test('SSO: a second app in the same browser gets its code without the form', async (t) => {
  const { app, a, b, alice } = await setup(t)
  const browser = new Browser(app)
  const first = await browser.follow(authorizeURL({ client_id: a.client.id, redirect_uri: APP_A, response_type: 'code', scope: 'openid' }))
  const signedIn = await browser.signIn(first.res, 'alice', alice.password)
  t.ok(signedIn.location?.searchParams.get('code'))

  const { verifier, challenge } = pkce()
  const sso = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: APP_B, response_type: 'code', scope: 'openid profile', state: 's2', code_challenge: challenge, code_challenge_method: 'S256' }))
  t.ok(sso.location, 'redirected straight back to app B')
  t.equal(sso.location!.origin + sso.location!.pathname, APP_B)
  t.equal(sso.location!.searchParams.get('state'), 's2')
  const tokenRes = await exchange(app, { code: sso.location!.searchParams.get('code')!, redirect_uri: APP_B, code_verifier: verifier, client_id: b.client.id })
  t.equal(tokenRes.statusCode, 200, tokenRes.body)
  const tokens = tokenRes.json()
  t.notOk(tokens.refresh_token, 'no refresh token without offline_access or the refresh_token grant')
  const jwks = createLocalJWKSet((await app.inject('/jwks')).json())
  const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: ISSUER, audience: b.client.id })
  t.equal(payload.sub, alice.user.id)
  t.notOk(payload.nonce)

  // prompt=none with a session: code at once
  const silent = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: APP_B, response_type: 'code', prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }))
  t.ok(silent.location?.searchParams.get('code'), 'prompt=none with a session returns a code')
  // prompt=login forces the form even with a session, and keeps the session id
  const forced = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: APP_B, response_type: 'code', prompt: 'login', code_challenge: challenge, code_challenge_method: 'S256' }))
  t.equal(forced.res.statusCode, 200)
  t.match(forced.res.body, /name="password"/)
  const reauth = await browser.signIn(forced.res, 'alice', alice.password)
  t.ok(reauth.location?.searchParams.get('code'))
  // max_age=0 forces the form too
  const aged = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: APP_B, response_type: 'code', max_age: '0', code_challenge: challenge, code_challenge_method: 'S256' }))
  t.match(aged.res.body, /name="password"/, 'max_age=0 asks for the password again')
})

t.test('prompt=none without a session → login_required at the redirect URI', async (t) => {
  const { app, a } = await setup(t)
  const browser = new Browser(app)
  const res = await browser.follow(authorizeURL({ client_id: a.client.id, redirect_uri: APP_A, response_type: 'code', scope: 'openid', prompt: 'none', state: 'x' }))
  t.equal(res.location?.searchParams.get('error'), 'login_required')
  t.equal(res.location?.searchParams.get('state'), 'x')
  t.equal(res.location?.searchParams.get('iss'), ISSUER)
})

t.test('consent for third-party clients: shown, remembered, deniable, revocable', async (t) => {
  const { app, alice } = await setup(t)
  const third = await createClient(app, {
    name: 'Partner <App>', grantTypes: ['authorization_code'], redirectUris: ['https://partner.example/cb'], scopes: ['openid', 'email', 'profile', 'read'],
  })
  const browser = new Browser(app)
  const url = authorizeURL({ client_id: third.client.id, redirect_uri: 'https://partner.example/cb', response_type: 'code', scope: 'openid email', state: 'c1' })
  const login = await browser.follow(url)
  t.match(login.res.body, /Partner &lt;App&gt;/, 'client name is escaped')
  const consent = await browser.signIn(login.res, 'alice', alice.password)
  t.equal(consent.res.statusCode, 200, 'consent page shown after sign-in')
  t.match(consent.res.body, /See your email address/)
  t.match(consent.res.body, /name="decision" value="allow"/)
  t.equal(consent.res.headers['x-frame-options'], 'DENY')
  const fields = hiddenFields(consent.res.body)

  const forged = await browser.post(`${ISSUER}/consent`, { request: fields.request, decision: 'allow' })
  t.equal(forged.statusCode, 403, 'consent without CSRF token refused')

  const allowed = await browser.follow(`${ISSUER}/consent`, { ...fields, decision: 'allow' })
  t.ok(allowed.location?.searchParams.get('code'))
  t.equal(allowed.location?.searchParams.get('state'), 'c1')
  t.same((await app.consents.granted(alice.user.id, third.client.id)).sort(), ['email', 'openid'])

  const remembered = await browser.follow(url)
  t.ok(remembered.location?.searchParams.get('code'), 'remembered consent: code at once')

  const more = await browser.follow(authorizeURL({ client_id: third.client.id, redirect_uri: 'https://partner.example/cb', response_type: 'code', scope: 'openid email profile', prompt: 'none' }))
  t.equal(more.location?.searchParams.get('error'), 'consent_required', 'a new scope needs consent again')

  t.ok(await app.consents.revoke(alice.user.id, third.client.id))
  const asked = await browser.follow(url)
  t.equal(asked.res.statusCode, 200, 'revoked consent: asked again')
  const denied = await browser.follow(`${ISSUER}/consent`, { ...hiddenFields(asked.res.body), decision: 'deny' })
  t.equal(denied.location?.searchParams.get('error'), 'access_denied')
  t.equal(denied.location?.searchParams.get('state'), 'c1')
})

t.test('login form: CSRF token and browser binding are required', async (t) => {
  const { app, a, alice } = await setup(t)
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: a.client.id, redirect_uri: APP_A, response_type: 'code' }))
  const fields = hiddenFields(page.res.body)

  const noCsrf = await browser.post(`${ISSUER}/login`, { request: fields.request, username: 'alice', password: alice.password })
  t.equal(noCsrf.statusCode, 403, 'missing CSRF token → 403')
  const badCsrf = await browser.post(`${ISSUER}/login`, { ...fields, csrf: 'x'.repeat(43), username: 'alice', password: alice.password })
  t.equal(badCsrf.statusCode, 403, 'wrong CSRF token → 403')

  const other = new Browser(app)
  const stolen = await other.post(`${ISSUER}/login`, { ...fields, username: 'alice', password: alice.password })
  t.equal(stolen.statusCode, 400, 'another browser cannot use the request')
  t.match(stolen.body, /expired/)

  const ok = await browser.signIn(page.res, 'alice', alice.password)
  t.ok(ok.location?.searchParams.get('code'))
  const replay = await browser.post(`${ISSUER}/login`, { ...fields, username: 'alice', password: alice.password })
  t.equal(replay.statusCode, 400, 'a completed request cannot be completed again')
})

t.test('discovery advertises the browser endpoints from the registry', async (t) => {
  const { app } = await setup(t)
  const meta = (await app.inject('/.well-known/openid-configuration')).json()
  t.equal(meta.authorization_endpoint, `${ISSUER}/authorize`)
  t.equal(meta.userinfo_endpoint, `${ISSUER}/userinfo`)
  t.equal(meta.end_session_endpoint, `${ISSUER}/logout`)
  t.same(meta.response_types_supported, ['code'])
  t.same(meta.code_challenge_methods_supported, ['S256'])
  t.ok(meta.grant_types_supported.includes('authorization_code'))
  t.equal(meta.backchannel_logout_supported, true)
  t.equal(meta.backchannel_logout_session_supported, true)
  t.equal(meta.authorization_response_iss_parameter_supported, true)
  for (const claim of ['sub', 'nonce', 'sid', 'preferred_username', 'email', 'at_hash']) t.ok(meta.claims_supported.includes(claim), claim)
})
