/**
 * The login back-off as a pure unit (fake clock, memory and Redis stores), then through the
 * password grant.
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { backoffSeconds, LoginThrottle, MemoryThrottleStore, RedisThrottleStore, type ThrottleStore } from '../../src/domain/login_throttle.js'
import { defaults } from '../../src/config/defaults.js'
import { build, createClient, createUser, redisAvailable, TEST_REDIS_URL as REDIS_URL } from '../helper.js'

t.test('backoffSeconds doubles after the free attempts and is capped', async (t) => {
  t.strictSame([0, 4, 5, 6, 7, 14, 15, 40].map((f) => backoffSeconds(f, 5, 1, 900)), [0, 0, 1, 2, 4, 512, 900, 900])
  t.equal(backoffSeconds(1e9, 5, 1, 900), 900, 'no overflow')
})

async function behaviour (t: Test, store: ThrottleStore) {
  let now = 1_000_000
  const throttle = new LoginThrottle(store, { ...defaults.loginThrottle }, () => now)
  const user = `alice-${randomBytes(4).toString('hex')}`
  for (let i = 0; i < 5; i++) {
    t.same(await throttle.check(user, '10.0.0.1'), { allowed: true }, `free attempt ${i + 1}`)
    await throttle.failed(user, '10.0.0.1')
  }
  t.same(await throttle.check(user, '10.0.0.1'), { allowed: false, retryAfter: 1 }, 'after 5 failures: 1 s')
  t.same(await throttle.check(user.toUpperCase(), '10.0.0.1'), { allowed: false, retryAfter: 1 }, 'usernames are compared case-insensitively')
  t.same(await throttle.check(user, '10.0.0.2'), { allowed: true }, 'the real user on another IP is not affected')
  now += 1000
  t.same(await throttle.check(user, '10.0.0.1'), { allowed: true }, 'after the delay')
  await throttle.failed(user, '10.0.0.1')
  t.same(await throttle.check(user, '10.0.0.1'), { allowed: false, retryAfter: 2 }, 'doubles')
  // Attempts while blocked are not failures: waiting always ends.
  for (let i = 0; i < 20; i++) await throttle.check(user, '10.0.0.1')
  now += 2000
  t.same(await throttle.check(user, '10.0.0.1'), { allowed: true })
  await throttle.succeeded(user, '10.0.0.1')
  t.same(await throttle.check(user, '10.0.0.1'), { allowed: true }, 'a success clears the (user, IP) counter')

  // Spread over many IPs: the account-wide counter starts after 50 failures and caps at 30 s.
  for (let i = 0; i < 60; i++) await throttle.failed(user, `10.1.0.${i}`)
  const spread = await throttle.check(user, '10.9.9.9')
  t.equal(spread.allowed, false, 'distributed guessing is slowed down too')
  t.ok(!spread.allowed && spread.retryAfter <= defaults.loginThrottle.accountMaxDelay, 'but never by more than accountMaxDelay')
  now += defaults.loginThrottle.accountMaxDelay * 1000
  t.same(await throttle.check(user, '10.9.9.9'), { allowed: true }, 'so the real user always gets through')

  now += (defaults.loginThrottle.window + 1) * 1000
  t.same(await throttle.check(user, '10.1.0.1'), { allowed: true }, 'counters are forgotten after the window')
}

t.test('memory store', (t) => behaviour(t, new MemoryThrottleStore()))

t.test('Redis store', { skip: await redisAvailable() ? false : `no Redis at ${REDIS_URL}` }, async (t) => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  t.teardown(() => redis.quit())
  await redis.connect()
  await behaviour(t, new RedisThrottleStore(redis, `stamp-test:${randomBytes(4).toString('hex')}:`))
})

t.test('through the password grant: 429 with Retry-After, per (username, IP), unknown users alike', async (t) => {
  const app = await build(t)
  const { basic } = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  const { username, password } = await createUser(app)
  const attempt = (user: string, pass: string, remoteAddress = '192.0.2.10') => app.inject({
    method: 'POST', url: '/token', remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
    payload: new URLSearchParams({ grant_type: 'password', username: user, password: pass }).toString(),
  })
  for (let i = 0; i < 5; i++) t.equal((await attempt(username, 'wrong password')).json().error, 'invalid_grant')
  const throttled = await attempt(username, password)
  t.equal(throttled.statusCode, 429, 'even the right password waits: the throttle does not reveal it')
  t.strictSame(throttled.json(), { error: 'temporarily_unavailable', error_description: 'too many failed login attempts; retry after 1 seconds' })
  t.equal(throttled.headers['retry-after'], '1')
  t.equal((await attempt(username, password, '192.0.2.99')).statusCode, 200, 'the real user from their own IP is not locked out')

  for (let i = 0; i < 5; i++) await attempt('nobody-here', 'wrong password')
  t.equal((await attempt('nobody-here', 'wrong password')).statusCode, 429, 'unknown usernames are throttled the same way')

  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await attempt(username, password)).statusCode, 200, 'after the delay the right password works')

  const types = (await app.auditStore.list({ limit: 50 })).map((e) => e.type)
  t.ok(types.includes('login_throttled') && types.includes('login_failed') && types.includes('login_succeeded'), 'audited')
})

t.test('issue 11 item 11: every form of one username shares one back-off (width, case, NFC)', async (t) => {
  const now = 1_000_000
  const throttle = new LoginThrottle(new MemoryThrottleStore(), { ...defaults.loginThrottle }, () => now)
  for (let i = 0; i < 5; i++) await throttle.failed('jos\u00e9', '10.0.0.1')
  for (const form of ['JOS\u00c9', 'jose\u0301', 'ＪＯＳ\u00c9']) {
    t.same(await throttle.check(form, '10.0.0.1'), { allowed: false, retryAfter: 1 }, JSON.stringify(form))
  }
})
