/**
 * RFC 8628 end to end over app.inject: the device authorization endpoint, the /device pages
 * (code entry, sign-in, approval) with a cookie-keeping browser, and every token endpoint answer
 * (authorization_pending, slow_down with a growing interval, access_denied, expired_token, the
 * approval issued exactly once).
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import { build, createClient, createTestDatabase, createUser, postForm, testConfig } from '../helper.js'
import { Browser, hiddenFields } from '../fixtures/browser.js'
import type { FastifyInstance } from 'fastify'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

async function setup (t: Tap.Test) {
  const url = await createTestDatabase(t)
  const config = testConfig(url)
  config.policy = { ...config.policy, deviceFlow: { ...config.policy.deviceFlow, interval: 1 } }
  const app = await build(t, { config, databaseUrl: url })
  const tv = await createClient(app, { name: 'Living Room TV', public: true, grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'profile', 'offline_access', 'read'], audiences: [] })
  const user = await createUser(app, 'dora', 'correct horse battery staple', ['read'])
  return { app, tv, user }
}

declare global { namespace Tap { interface Test { teardown(fn: () => unknown): void } } }

function start (app: FastifyInstance, clientId: string, scope = 'openid profile read') {
  return postForm(app, '/device_authorization', { client_id: clientId, scope })
}

function poll (app: FastifyInstance, clientId: string, deviceCode: string) {
  return postForm(app, '/token', { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId })
}

/** Enters the code, signs in, and allows or denies; returns the final page. */
async function decide (app: FastifyInstance, userCode: string, username: string, password: string, decision: 'allow' | 'deny', browser = new Browser(app)) {
  const entry = await browser.get(`/device?user_code=${userCode}`)
  const afterCode = await browser.follow('/device', { ...hiddenFields(entry.body), user_code: userCode.toLowerCase().replace('-', '') })
  let page = afterCode.res
  if (/name="password"/.test(page.body)) page = (await browser.follow('/device/login', { ...hiddenFields(page.body), username, password })).res
  return { page: (await browser.post('/device/approve', { ...hiddenFields(page.body), decision })), browser, approvePage: page }
}

t.test('discovery advertises the endpoint and both grants', async (t) => {
  const { app } = await setup(t)
  const meta = (await app.inject('/.well-known/openid-configuration')).json()
  t.equal(meta.device_authorization_endpoint, 'http://stamp.test/device_authorization')
  t.ok(meta.grant_types_supported.includes(DEVICE_GRANT))
  t.ok(meta.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:token-exchange'))
})

t.test('device authorization request', async (t) => {
  const { app, tv } = await setup(t)
  const res = await start(app, tv.client.id)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.match(body.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/, 'XXXX-XXXX from the no-vowel alphabet')
  t.ok(body.device_code.length >= 43)
  t.equal(body.verification_uri, 'http://stamp.test/device')
  t.equal(body.verification_uri_complete, `http://stamp.test/device?user_code=${body.user_code}`)
  t.equal(body.expires_in, 600)
  t.equal(body.interval, 1)
  const stored = await app.prisma.$queryRawUnsafe<Array<{ device_code_hash: string, user_code_hash: string }>>('SELECT device_code_hash, user_code_hash FROM device_authorizations')
  t.equal(stored.length, 1)
  t.notOk(JSON.stringify(stored).includes(body.device_code), 'the device code is stored hashed')
  t.notOk(JSON.stringify(stored).includes(body.user_code.replace('-', '')), 'and the user code too')

  const other = await createClient(app, { grantTypes: ['client_credentials'] })
  const refused = await postForm(app, '/device_authorization', { scope: 'read' }, { authorization: other.basic })
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().error, 'unauthorized_client')
  const wide = await start(app, tv.client.id, 'openid admin')
  t.equal(wide.json().error, 'invalid_scope')
  const unknown = await postForm(app, '/device_authorization', { client_id: 'nobody' })
  t.equal(unknown.statusCode, 401)
})

t.test('pending, slow_down, approval once, then invalid_grant', async (t) => {
  const { app, tv, user } = await setup(t)
  const { device_code: deviceCode, user_code: userCode } = (await start(app, tv.client.id)).json()
  const first = await poll(app, tv.client.id, deviceCode)
  t.equal(first.json().error, 'authorization_pending')
  const fast = await poll(app, tv.client.id, deviceCode)
  t.equal(fast.statusCode, 400)
  t.equal(fast.json().error, 'slow_down')
  const [{ interval }] = await app.prisma.$queryRawUnsafe<Array<{ interval: number }>>('SELECT "interval" FROM device_authorizations')
  t.equal(interval, 6, '§3.5: the interval grew by 5 seconds')
  // Within the grown interval, still too fast.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await poll(app, tv.client.id, deviceCode)).json().error, 'slow_down', 'the old interval is not enough any more')

  const { page, approvePage } = await decide(app, userCode, user.username, user.password, 'allow')
  t.match(approvePage.body, /Allow Living Room TV on your device\?/)
  t.match(approvePage.body, /See your username/)
  t.equal(page.statusCode, 200)
  t.match(page.body, /Device connected/)

  // Polling at the right pace again: make the last poll old enough instead of waiting 6 s.
  await app.prisma.$executeRawUnsafe("UPDATE device_authorizations SET last_polled_at = now() - interval '1 minute'")
  const polls = await Promise.all([poll(app, tv.client.id, deviceCode), poll(app, tv.client.id, deviceCode)])
  const ok = polls.filter((r) => r.statusCode === 200)
  t.equal(ok.length, 1, 'two racing polls: the approval is issued exactly once')
  const tokens = ok[0].json()
  t.equal(tokens.token_type, 'Bearer')
  t.equal(tokens.scope, 'openid profile read')
  t.ok(tokens.refresh_token, 'a refresh token, as the client refreshes')
  const idToken = decodeJwt(tokens.id_token)
  t.equal(idToken.sub, user.user.id)
  t.equal(idToken.aud, tv.client.id)
  t.equal(idToken.preferred_username, 'dora')
  const access = decodeJwt(tokens.access_token)
  t.equal(access.sub, user.user.id)
  t.ok(access.sid, 'bound to the session the user approved in')
  const loser = polls.find((r) => r.statusCode !== 200)!
  t.equal(loser.json().error, 'invalid_grant')
  t.equal((await poll(app, tv.client.id, deviceCode)).json().error, 'invalid_grant', 'a used device code stays used')

  const refreshed = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: tv.client.id })
  t.equal(refreshed.statusCode, 200, 'the refresh token works as usual')

  const audit = await app.auditStore.list({ limit: 50, type: 'device_authorization_approved' })
  t.equal(audit.length, 1)
  t.equal(audit[0].subject, user.user.id)
  t.same((audit[0].detail as { scopes: string[] }).scopes, ['openid', 'profile', 'read'])
})

t.test('deny, expiry, another client, the user\'s scopes', async (t) => {
  const { app, tv, user } = await setup(t)
  const denied = (await start(app, tv.client.id)).json()
  const { page } = await decide(app, denied.user_code, user.username, user.password, 'deny')
  t.match(page.body, /Request denied/)
  const res = await poll(app, tv.client.id, denied.device_code)
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'access_denied')
  t.equal((await app.auditStore.list({ limit: 10, type: 'device_authorization_denied' })).length, 1)

  const expired = (await start(app, tv.client.id)).json()
  await app.prisma.$executeRawUnsafe("UPDATE device_authorizations SET expires_at = now() - interval '1 second' WHERE status = 'pending'")
  t.equal((await poll(app, tv.client.id, expired.device_code)).json().error, 'expired_token')
  const browser = new Browser(app)
  const entry = await browser.get('/device')
  const late = await browser.post('/device', { ...hiddenFields(entry.body), user_code: expired.user_code })
  t.equal(late.statusCode, 400)
  t.match(late.body, /This code has expired/)

  const stranger = await createClient(app, { public: true, grantTypes: [DEVICE_GRANT], scopes: ['read'] })
  const fresh = (await start(app, tv.client.id)).json()
  t.equal((await poll(app, stranger.client.id, fresh.device_code)).json().error, 'invalid_grant', 'another client\'s device code is unknown')

  // A user without the `read` scope: the approval narrows to what the user may grant.
  const other = await createUser(app, 'otto')
  const narrowed = (await start(app, tv.client.id)).json()
  await decide(app, narrowed.user_code, other.username, other.password, 'allow')
  await app.prisma.$executeRawUnsafe("UPDATE device_authorizations SET last_polled_at = NULL")
  const tokens = (await poll(app, tv.client.id, narrowed.device_code)).json()
  t.equal(tokens.scope, 'openid profile', 'read is not the user\'s to grant')
})

t.test('the SSO session is used; a forwarded step link does not work in another browser; CSRF', async (t) => {
  const { app, tv, user } = await setup(t)
  const first = (await start(app, tv.client.id)).json()
  const { browser } = await decide(app, first.user_code, user.username, user.password, 'allow')
  const second = (await start(app, tv.client.id)).json()
  const entry = await browser.get('/device')
  const next = await browser.post('/device', { ...hiddenFields(entry.body), user_code: second.user_code })
  t.equal(next.statusCode, 303)
  const approveLink = next.headers.location as string
  t.match(approveLink, /\/device\/approve\?device=/, 'signed in already: straight to the approval')
  const stranger = new Browser(app)
  await stranger.get('/device')
  const forwarded = await stranger.get(approveLink)
  t.equal(forwarded.statusCode, 400)
  t.match(forwarded.body, /Start again/)
  const approve = await browser.get(approveLink)
  const forged = await browser.post('/device/approve', { ...hiddenFields(approve.body), csrf: 'x'.repeat(43), decision: 'allow' })
  t.equal(forged.statusCode, 403)
  const ok = await browser.post('/device/approve', { ...hiddenFields(approve.body), decision: 'allow' })
  t.match(ok.body, /Device connected/)
  const again = await browser.post('/device/approve', { ...hiddenFields(approve.body), decision: 'deny' })
  t.equal(again.statusCode, 400)
  t.match(again.body, /already used/, 'decided once')
  t.equal(approve.headers['content-security-policy']?.toString().includes("default-src 'none'"), true, 'strict CSP')
})

t.test('guessing user codes: counted, audited, then the browser is blocked', async (t) => {
  const { app, tv } = await setup(t)
  const real = (await start(app, tv.client.id)).json()
  const browser = new Browser(app)
  const entry = await browser.get('/device')
  const fields = hiddenFields(entry.body)
  for (let i = 0; i < 4; i++) {
    const res = await browser.post('/device', { ...fields, user_code: 'BBBB-BBB' + 'CDFG'[i] })
    t.equal(res.statusCode, 400, `wrong code ${i + 1}`)
    t.match(res.body, /That code is not valid/)
  }
  const blocked = await browser.post('/device', { ...fields, user_code: 'BBBB-BBBH' })
  t.equal(blocked.statusCode, 429, 'the fifth wrong code blocks the browser')
  t.ok(Number(blocked.headers['retry-after']) > 0)
  const evenRight = await browser.post('/device', { ...fields, user_code: real.user_code })
  t.equal(evenRight.statusCode, 429, 'while blocked, not even the right code is looked up')
  t.equal((await browser.get('/device')).statusCode, 429)
  t.equal((await app.auditStore.list({ limit: 50, type: 'device_user_code_failed' })).length, 5)
  t.equal((await app.auditStore.list({ limit: 50, type: 'device_flow_blocked' })).length, 1)
  const metrics = await app.metrics.registry.getSingleMetricAsString('stamp_device_user_code_failures_total')
  t.match(metrics, /reason="unknown"} 5/)
  t.match(metrics, /reason="blocked"} 1/)

  const malformed = new Browser(app)
  const e2 = await malformed.get('/device')
  const vowel = await malformed.post('/device', { ...hiddenFields(e2.body), user_code: 'AEIO-UAEI' })
  t.equal(vowel.statusCode, 400)
  const noCsrf = await malformed.post('/device', { user_code: real.user_code })
  t.equal(noCsrf.statusCode, 403, 'no CSRF token, no lookup')
})

t.test('the pages speak the browser\'s language', async (t) => {
  const { app } = await setup(t)
  const de = await app.inject({ url: '/device', headers: { 'accept-language': 'de-DE,de;q=0.9' } })
  t.equal(de.statusCode, 200)
  t.match(de.body, /<html lang="de">/)
  t.match(de.body, /Gerät verbinden/)
  t.match(de.body, /<label for="user_code">Gerätecode<\/label>/)
  const en = await app.inject({ url: '/device?ui_locales=en' })
  t.match(en.body, /Connect a device/)
})
