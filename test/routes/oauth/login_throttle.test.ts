/**
 * Brute-force protection of the hosted sign-in form (POST /login): the per-account back-off of
 * domain/login_throttle.ts, the per-IP request limit, the audit trail, and the dummy-hash timing
 * protection for unknown usernames.
 */
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, createClient, createUser } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields } from '../../fixtures/browser.js'

const APP = 'https://app.example/callback'

async function setup (t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}) {
  const app = await build(t, { env })
  const { client } = await createClient(app, {
    name: 'App', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [APP], scopes: ['openid'],
  })
  const alice = await createUser(app, 'alice')
  return { app, client, alice }
}

/** Opens the login page for a fresh authorization request. */
async function loginPage (app: FastifyInstance, clientId: string) {
  const browser = new Browser(app)
  const { res } = await browser.follow(authorizeURL({ client_id: clientId, redirect_uri: APP, response_type: 'code', scope: 'openid' }))
  if (res.statusCode !== 200) throw new Error(`no login page: ${res.statusCode}`)
  return { browser, page: res }
}

/** Counts calls to the password hasher's verify (and the hashes it was given). */
function spyVerify (t: { teardown(fn: () => unknown): void }, app: FastifyInstance) {
  const hasher = app.passwordHasher
  const original = hasher.verify.bind(hasher)
  const calls: Array<string | null> = []
  hasher.verify = async (hash, password) => { calls.push(hash); return original(hash, password) }
  t.teardown(() => { hasher.verify = original })
  return calls
}

async function auditTypes (app: FastifyInstance) {
  return (await app.auditStore.list({ limit: 100 })).map((e) => ({ type: e.type, subject: e.subject, clientId: e.clientId, detail: e.detail }))
}

const submit = (browser: Browser, page: LightMyRequestResponse, username: string, password: string) => browser.signIn(page, username, password)

t.test('after the free attempts, the form is refused with 429 and Retry-After, without checking the password', async (t) => {
  const { app, client, alice } = await setup(t, { LOGIN_THROTTLE_FREE_ATTEMPTS: '3', RATE_LIMIT_ENABLED: 'false' })
  const { browser, page } = await loginPage(app, client.id)
  for (let i = 0; i < 3; i++) {
    const wrong = await submit(browser, page, 'alice', `wrong ${i}`)
    t.equal(wrong.res.statusCode, 401, `failure ${i + 1} is a plain wrong password`)
  }
  const calls = spyVerify(t, app)
  const throttled = await submit(browser, page, 'alice', alice.password)
  t.equal(throttled.res.statusCode, 429)
  t.match(throttled.res.headers['content-type'], /text\/html/, 'the login page again, not JSON')
  const retryAfter = Number(throttled.res.headers['retry-after'])
  t.ok(retryAfter >= 1, `Retry-After: ${retryAfter}`)
  t.match(throttled.res.body, new RegExp(`Too many attempts; try again in ${retryAfter} seconds?\\.`))
  t.match(throttled.res.body, /name="password"/, 'the form is shown again')
  t.notMatch(throttled.res.body, /Incorrect username or password/)
  t.same(calls, [], 'the password was not verified')
  t.notOk(browser.cookies.has('stamp_session'), 'no session was started')
  t.notOk(throttled.location, 'no redirect to the application')
})

t.test('a throttled unknown username looks exactly like a throttled known one', async (t) => {
  const { app, client } = await setup(t, { RATE_LIMIT_ENABLED: 'false' })
  for (let i = 0; i < 10; i++) {
    await app.loginThrottle.failed('alice', '127.0.0.1')
    await app.loginThrottle.failed('mallory', '127.0.0.1')
  }
  const { browser, page } = await loginPage(app, client.id)
  const known = await submit(browser, page, 'alice', 'x')
  const unknown = await submit(browser, page, 'mallory', 'x')
  t.equal(known.res.statusCode, 429)
  t.equal(unknown.res.statusCode, 429)
  t.equal(known.res.headers['retry-after'], unknown.res.headers['retry-after'])
  t.ok(Number(known.res.headers['retry-after']) > 10, 'the back-off grew with the failures')
  const message = (body: string) => /id="login-error">([^<]*)</.exec(body)?.[1]
  t.match(message(known.res.body), /^Too many attempts; try again in \d+ seconds?\.$/)
  t.equal(message(known.res.body), message(unknown.res.body), 'same message')
})

t.test('the back-off is per (username, IP): another IP may still sign in', async (t) => {
  const { app, client, alice } = await setup(t, { RATE_LIMIT_ENABLED: 'false' })
  for (let i = 0; i < 10; i++) await app.loginThrottle.failed('alice', '10.9.9.9')
  const { browser, page } = await loginPage(app, client.id)
  const done = await submit(browser, page, 'alice', alice.password)
  t.ok(done.location?.searchParams.get('code'), 'signed in from 127.0.0.1')
})

t.test('a success clears the (username, IP) failures', async (t) => {
  const { app, client, alice } = await setup(t, { LOGIN_THROTTLE_FREE_ATTEMPTS: '3', RATE_LIMIT_ENABLED: 'false' })
  const first = await loginPage(app, client.id)
  for (let i = 0; i < 2; i++) t.equal((await submit(first.browser, first.page, 'alice', 'wrong')).res.statusCode, 401)
  t.ok((await submit(first.browser, first.page, 'alice', alice.password)).location, 'signed in')
  const second = await loginPage(app, client.id)
  for (let i = 0; i < 3; i++) {
    t.equal((await submit(second.browser, second.page, 'alice', 'wrong')).res.statusCode, 401, 'counted from zero again')
  }
})

t.test('audit trail: failure, success and throttling, never the typed username', async (t) => {
  const { app, client, alice } = await setup(t, { LOGIN_THROTTLE_FREE_ATTEMPTS: '2', RATE_LIMIT_ENABLED: 'false' })
  const { browser, page } = await loginPage(app, client.id)
  await submit(browser, page, 'alice', 'wrong')
  t.ok((await submit(browser, page, 'alice', alice.password)).location)
  const other = await loginPage(app, client.id)
  await submit(other.browser, other.page, 'nobody-typed-this', 'wrong')
  await submit(other.browser, other.page, 'nobody-typed-this', 'wrong')
  t.equal((await submit(other.browser, other.page, 'nobody-typed-this', 'wrong')).res.statusCode, 429)

  const events = (await auditTypes(app)).reverse()
  t.match(events, [
    { type: 'login_failed', subject: alice.user.id, clientId: client.id, detail: { reason: 'bad_password', via: 'login_form' } },
    { type: 'login_succeeded', subject: alice.user.id, clientId: client.id },
    { type: 'login_failed', subject: null, clientId: client.id, detail: { reason: 'unknown_user' } },
    { type: 'login_failed', subject: null, clientId: client.id, detail: { reason: 'unknown_user' } },
    { type: 'login_throttled', clientId: client.id },
  ])
  t.notMatch(JSON.stringify(events), /nobody-typed-this/, 'the typed username is not stored')
})

t.test('disabled users: audited as disabled, same page as a wrong password', async (t) => {
  const { app, client, alice } = await setup(t, { RATE_LIMIT_ENABLED: 'false' })
  await app.usersRepository.update(alice.user.id, { disabled: true })
  const { browser, page } = await loginPage(app, client.id)
  const res = await submit(browser, page, 'alice', alice.password)
  t.equal(res.res.statusCode, 401)
  t.match(res.res.body, /Incorrect username or password/)
  t.match(await auditTypes(app), [{ type: 'login_failed', subject: alice.user.id, detail: { reason: 'disabled' } }])
})

t.test('unknown users are verified against the dummy hash (same argon2 work)', async (t) => {
  const { app, client, alice } = await setup(t, { RATE_LIMIT_ENABLED: 'false' })
  const calls = spyVerify(t, app)
  const { browser, page } = await loginPage(app, client.id)
  await submit(browser, page, 'mallory', 'x')
  await submit(browser, page, 'alice', 'x')
  t.same(calls, [null, alice.user.passwordHash], 'verify ran for the unknown user too, with a null hash')
})

t.test('per-IP request limit on POST /login (RATE_LIMIT_LOGIN_MAX)', async (t) => {
  const { app, client } = await setup(t, { RATE_LIMIT_LOGIN_MAX: '2', RATE_LIMIT_WINDOW: '60' })
  const { browser, page } = await loginPage(app, client.id)
  const fields = hiddenFields(page.body)
  const post = () => browser.post(`${ISSUER}/login`, { ...fields, username: 'alice', password: 'wrong' })
  t.equal((await post()).statusCode, 401)
  t.equal((await post()).statusCode, 401)
  const limited = await post()
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) >= 1)
  const again = await browser.get(`${ISSUER}/login?request=${fields.request}`)
  t.equal(again.statusCode, 200, 'GET /login (showing the form) is not limited')
})
