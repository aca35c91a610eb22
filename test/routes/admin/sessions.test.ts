/**
 * Admin API over SSO sessions: a user's live sessions, ending one, and sign-out everywhere
 * (sessions ended with back-channel logout, refresh-token families revoked), also on password
 * reset and disable.
 */
import t from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { build, createAdmin, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL } from '../../fixtures/browser.js'

const APP = 'https://app.example/cb'
const OTHER = 'https://other.example/cb'

async function setup (t: { teardown(fn: () => unknown): void }) {
  const deliveries: Array<{ uri: string, token: string }> = []
  const fakeFetch = (async (uri: string | URL | Request, init?: RequestInit) => {
    deliveries.push({ uri: String(uri), token: new URLSearchParams(String(init?.body)).get('logout_token')! })
    return new Response(null, { status: 200 })
  }) as typeof fetch
  // The sender resolves the host first: an injected lookup (a TEST-NET address; fetch is fake anyway).
  const app = await build(t, { fetch: fakeFetch, lookup: async () => [{ address: '192.0.2.10', family: 4 }], env: { RATE_LIMIT_ENABLED: 'false' } })
  const admin = await createAdmin(app)
  const a = await createClient(app, {
    name: 'App', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [APP],
    backchannelLogoutUri: 'https://app.example/backchannel', scopes: ['openid', 'offline_access'],
  })
  const b = await createClient(app, { name: 'Other', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [OTHER], scopes: ['openid'] })
  const alice = await createUser(app, 'alice')
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    app.inject({ method, url, payload, headers: { authorization: admin.authorization } })

  /** Signs alice in, in a new browser, at App (with a refresh token) and then at Other. */
  async function signIn () {
    const browser = new Browser(app)
    const page = await browser.follow(authorizeURL({ client_id: a.client.id, redirect_uri: APP, response_type: 'code', scope: 'openid offline_access' }))
    const done = await browser.signIn(page.res, 'alice', alice.password)
    const code = done.location!.searchParams.get('code')!
    const tokens = (await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: APP }, { authorization: a.basic })).json()
    const other = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: OTHER, response_type: 'code', scope: 'openid' }))
    if (!other.location?.searchParams.get('code')) throw new Error('SSO into Other failed')
    const jwks = createLocalJWKSet((await app.inject('/jwks')).json())
    const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: ISSUER })
    return { browser, tokens, sid: payload.sid as string }
  }
  const refresh = async (token: string) =>
    (await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: token }, { authorization: a.basic })).json()
  /** Whether the browser is still signed in (the authorize endpoint answers without the form). */
  const stillSignedIn = async (browser: Browser) =>
    (await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: OTHER, response_type: 'code', scope: 'openid' }))).location !== undefined
  const settle = async (count: number) => {
    for (let i = 0; i < 100 && deliveries.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { app, a, b, alice, call, signIn, refresh, stillSignedIn, deliveries, settle }
}

t.test('GET /admin/users/:id/sessions lists live SSO sessions; DELETE /admin/sessions/:sid ends one', async (t) => {
  const { app, a, b, alice, call, signIn, refresh, stillSignedIn, deliveries, settle } = await setup(t)
  const one = await signIn()
  const two = await signIn()

  const list = await call('GET', `/admin/users/${alice.user.id}/sessions`)
  t.equal(list.statusCode, 200)
  const items = list.json().items as Array<Record<string, unknown>>
  t.equal(items.length, 2)
  t.same(items.map((s) => s.sid).sort(), [one.sid, two.sid].sort())
  for (const item of items) {
    t.same(Object.keys(item).sort(), ['auth_time', 'client_ids', 'created_at', 'ended_at', 'expires_at', 'sid', 'user_id'])
    t.same(item.client_ids, [a.client.id, b.client.id])
    t.equal(item.user_id, alice.user.id)
    t.equal(item.ended_at, null)
    t.ok(Date.parse(item.expires_at as string) > Date.now())
  }
  t.notMatch(list.body, /token_hash|tokenHash/, 'the cookie hash never leaves the server')
  const paged = (await call('GET', `/admin/users/${alice.user.id}/sessions?limit=1`)).json()
  t.equal(paged.items.length, 1)
  t.equal((await call('GET', `/admin/users/${alice.user.id}/sessions?limit=1&cursor=${paged.next_cursor}`)).json().items.length, 1)

  t.equal((await call('GET', `/admin/sessions/${one.sid}`)).json().sid, one.sid)
  const ended = await call('DELETE', `/admin/sessions/${one.sid}`)
  t.equal(ended.statusCode, 200)
  t.ok(ended.json().ended_at, 'returned as ended')

  await settle(1)
  t.equal(deliveries.length, 1, 'back-channel logout to the client that registered a URI')
  t.equal(deliveries[0].uri, 'https://app.example/backchannel')
  const jwks = createLocalJWKSet((await app.inject('/jwks')).json())
  const { payload } = await jwtVerify(deliveries[0].token, jwks, { issuer: ISSUER, audience: a.client.id, typ: 'logout+jwt' })
  t.equal(payload.sid, one.sid)
  t.equal(payload.sub, alice.user.id)

  t.equal((await refresh(one.tokens.refresh_token)).error, 'invalid_grant', 'the session\'s refresh family is revoked')
  t.notOk(await stillSignedIn(one.browser), 'the browser of the ended session must sign in again')
  t.ok((await refresh(two.tokens.refresh_token)).access_token, 'the other session is untouched')
  t.ok(await stillSignedIn(two.browser))
  t.same((await call('GET', `/admin/users/${alice.user.id}/sessions`)).json().items.map((s: { sid: string }) => s.sid), [two.sid])

  const again = await call('DELETE', `/admin/sessions/${one.sid}`)
  t.equal(again.statusCode, 200, 'ending an ended session is idempotent')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(deliveries.length, 1, '… and notifies nobody again')
  t.equal((await call('DELETE', '/admin/sessions/no-such-session')).statusCode, 404)
  t.equal((await call('GET', '/admin/sessions/no-such-session')).statusCode, 404)
  t.equal((await call('DELETE', '/admin/sessions/bad%20sid')).statusCode, 400)
  t.equal((await call('GET', '/admin/users/00000000-0000-4000-8000-000000000000/sessions')).statusCode, 404)

  const audit = (await call('GET', '/admin/audit-events?type=session_ended')).json().items
  t.equal(audit.length, 1, 'audited once')
  t.match(audit[0], { type: 'session_ended', subject: alice.user.id, detail: { sid: one.sid } })
})

t.test('POST /admin/users/:id/sign-out ends every SSO session and revokes every family', async (t) => {
  const { app, a, alice, call, signIn, refresh, stillSignedIn, deliveries, settle } = await setup(t)
  const one = await signIn()
  const two = await signIn()
  // A password-grant style family without a session: revoked too.
  const pw = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  const direct = (await postForm(app, '/token', { grant_type: 'password', username: 'alice', password: alice.password }, { authorization: pw.basic })).json()

  const res = await call('POST', `/admin/users/${alice.user.id}/sign-out`)
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { ended_sessions: 2, revoked_families: 3 })
  await settle(2)
  t.same(deliveries.map((d) => d.uri), ['https://app.example/backchannel', 'https://app.example/backchannel'], 'one logout token per session')
  for (const session of [one, two]) {
    t.equal((await refresh(session.tokens.refresh_token)).error, 'invalid_grant')
    t.notOk(await stillSignedIn(session.browser))
  }
  t.equal((await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: direct.refresh_token }, { authorization: pw.basic })).json().error, 'invalid_grant')
  t.same((await call('GET', `/admin/users/${alice.user.id}/sessions`)).json().items, [])
  const audit = (await call('GET', '/admin/audit-events?type=user_signed_out_everywhere')).json().items
  t.match(audit, [{ subject: alice.user.id, detail: { sessions_ended: 2, refresh_families_revoked: 3 } }])
  t.equal((await call('POST', `/admin/users/${alice.user.id}/sign-out`)).json().ended_sessions, 0, 'nothing left to end')
  void a
})

t.test('password reset and disabling end the SSO sessions too', async (t) => {
  const { alice, call, signIn, stillSignedIn } = await setup(t)
  const one = await signIn()
  const reset = await call('POST', `/admin/users/${alice.user.id}/password`, { password: 'another long passphrase' })
  t.strictSame(reset.json(), { ended_sessions: 1, revoked_families: 1 })
  t.notOk(await stillSignedIn(one.browser))

  alice.password = 'another long passphrase'
  const two = await signIn()
  t.equal((await call('PATCH', `/admin/users/${alice.user.id}`, { disabled: true })).statusCode, 200)
  t.same((await call('GET', `/admin/users/${alice.user.id}/sessions`)).json().items, [], 'no live session after disabling')
  t.notOk(await stillSignedIn(two.browser))
})
