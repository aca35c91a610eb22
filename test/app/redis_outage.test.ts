/**
 * Redis is optional at run time and at boot. A TCP proxy in front of the shared Redis (never
 * stopped) injects the outage: logins keep working on per-instance counters (limits still
 * enforced), one warning per transition, /readyz reports `degraded` without failing, Stamp starts
 * while Redis is unreachable and reconnects in the background, and a process shuts down with 0.
 */
import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createTestDatabase, createUser, postForm, redisAvailable, TEST_REDIS_URL } from '../helper.js'
import { loggerOptions } from '../../src/logging.js'
import { startTCPProxy } from '../fixtures/tcp_proxy.js'
import { Browser, authorizeURL } from '../fixtures/browser.js'
import { freePort, startStamp, stampEnv } from '../fixtures/deploy.js'

const skip = await redisAvailable() ? false : `no Redis at ${TEST_REDIS_URL}`
const APP = 'https://app.example/callback'

function capture () {
  const lines: Array<Record<string, any>> = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb() } })
  return { log: pino(loggerOptions('info'), sink), lines }
}

async function waitFor (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function setup (t: Test, { downAtBoot = false, env = {} as Record<string, string> } = {}) {
  const target = new URL(TEST_REDIS_URL)
  const proxy = await startTCPProxy(t, { host: target.hostname, port: Number(target.port || 6379) })
  if (downAtBoot) await proxy.refuse()
  const logs = capture()
  const url = await createTestDatabase(t)
  const app = await build(t, { databaseUrl: url, loggerInstance: logs.log, env: { REDIS_URL: proxy.url(TEST_REDIS_URL), ...env } })
  const pwd = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const web = await createClient(app, { name: 'App', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [APP], scopes: ['openid'] })
  const { username, password } = await createUser(app, `u-${randomBytes(4).toString('hex')}`, undefined, ['read'])
  return { app, proxy, logs, pwd, web, username, password }
}

const login = (app: FastifyInstance, basic: string, username: string, password: string, remoteAddress = '198.51.100.20') =>
  app.inject({ method: 'POST', url: '/token', remoteAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, payload: new URLSearchParams({ grant_type: 'password', username, password }).toString() })

t.test('Redis down at run time: logins work on per-instance counters; degraded, not unready; recovers', { skip }, async (t) => {
  const s = await setup(t, { env: { LOGIN_THROTTLE_FREE_ATTEMPTS: '3', RATE_LIMIT_TOKEN_MAX: '40' } })
  t.equal((await login(s.app, s.pwd.basic, s.username, s.password)).statusCode, 200, 'before: fine')
  t.same((await s.app.inject('/readyz')).json().checks.redis, 'ok')

  await s.proxy.refuse()
  const ok = await login(s.app, s.pwd.basic, s.username, s.password)
  t.equal(ok.statusCode, 200, 'the password grant works while Redis is down')
  for (let i = 0; i < 3; i++) t.equal((await login(s.app, s.pwd.basic, s.username, 'wrong password 1', '198.51.100.21')).statusCode, 400)
  const throttled = await login(s.app, s.pwd.basic, s.username, s.password, '198.51.100.21')
  t.equal(throttled.statusCode, 429, 'the login back-off still applies, counted in memory')

  const browser = new Browser(s.app)
  const { res: page } = await browser.follow(authorizeURL({ client_id: s.web.client.id, redirect_uri: APP, response_type: 'code', scope: 'openid' }))
  t.equal(page.statusCode, 200)
  const signedIn = await browser.signIn(page, s.username, s.password)
  t.ok(signedIn.res.statusCode < 500, `the login form works while Redis is down (${signedIn.res.statusCode})`)

  const statuses: number[] = []
  for (let i = 0; i < 45; i++) statuses.push((await postForm(s.app, '/token', { grant_type: 'client_credentials' }, { authorization: 'Basic bm9ib2R5Om5vdGhpbmc=' })).statusCode)
  t.ok(statuses.includes(429), 'rate limits still apply, per instance')
  t.notOk(statuses.includes(500))

  const ready = await s.app.inject('/readyz')
  t.equal(ready.statusCode, 200, '/readyz stays 200')
  t.equal(ready.json().checks.redis, 'degraded')
  const down = s.logs.lines.filter((l) => l.msg?.startsWith('redis unavailable'))
  t.equal(down.length, 1, 'one warning for the transition')
  t.match(down[0].msg, /per-instance counters/)
  t.notOk(s.logs.lines.some((l) => l.msg === 'unhandled error'))
  const metrics = await s.app.metrics.registry.metrics()
  t.match(metrics, /stamp_redis_fallback 1/, 'the fallback is visible as a metric')
  t.match(metrics, /stamp_dependency_outages_total\{dependency="redis"\} 1/)

  await s.proxy.resume()
  await waitFor('Redis reconnect', async () => (await s.app.inject('/readyz')).json().checks.redis === 'ok')
  t.equal(s.logs.lines.filter((l) => l.msg === 'redis recovered').length, 1, 'one line for the recovery')
  t.match(await s.app.metrics.registry.metrics(), /stamp_redis_fallback 0/)
  t.equal((await login(s.app, s.pwd.basic, s.username, s.password)).statusCode, 200)
})

t.test('Redis unreachable at boot: Stamp starts, then connects in the background', { skip }, async (t) => {
  const s = await setup(t, { downAtBoot: true })
  t.equal((await login(s.app, s.pwd.basic, s.username, s.password)).statusCode, 200)
  const ready = await s.app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.equal(ready.json().checks.redis, 'degraded')
  await s.proxy.resume()
  await waitFor('Redis connect', async () => (await s.app.inject('/readyz')).json().checks.redis === 'ok')
  t.ok(s.proxy.accepted > 0, 'the connection went through the proxy')
})

t.test('stamp serve with Redis unreachable: starts, and SIGTERM exits 0; --workers too', { skip }, async (t) => {
  const url = await createTestDatabase(t)
  const env = stampEnv(url, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` }) // nothing listens there
  const one = await startStamp(t, env)
  const res = await fetch(`http://127.0.0.1:${one.port}/readyz`)
  t.equal(res.status, 200)
  t.equal(((await res.json()) as { checks: { redis: string } }).checks.redis, 'degraded')
  one.child.kill('SIGTERM')
  t.equal((await one.exited).code, 0, 'a clean shutdown with Redis down')
  t.notOk(one.output().includes('Connection is closed'))

  const workers = await startStamp(t, env, ['--workers', '2'], 2)
  t.notOk(workers.lines.some((l) => l.msg === 'worker died; starting a replacement'), 'no crash loop')
  workers.child.kill('SIGTERM')
  t.equal((await workers.exited).code, 0)
})
