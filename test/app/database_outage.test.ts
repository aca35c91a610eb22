/**
 * PostgreSQL outages seen through a TCP proxy the test controls (the shared server is never
 * stopped): every endpoint answers 503 `temporarily_unavailable` with Retry-After (an HTML page on
 * browser pages), /readyz fails and recovers, and the log says so once per transition instead of
 * a stack per request, with the error code (errno / SQLSTATE) unredacted.
 */
import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { build, createAdmin, createClient, createTestDatabase, createUser, postForm } from '../helper.js'
import { errorWithCodes, loggerOptions } from '../../src/logging.js'
import { startTCPProxy } from '../fixtures/tcp_proxy.js'
import { isDatabaseUnavailable } from '../../src/db/outage.js'

const CB = 'https://app.example/cb'

function capture () {
  const lines: Array<Record<string, any>> = []
  let bytes = 0
  const sink = new Writable({ write (chunk, _enc, cb) { bytes += chunk.length; lines.push(JSON.parse(chunk.toString())); cb() } })
  return { log: pino(loggerOptions('info'), sink), lines, bytes: () => bytes }
}

async function setup (t: Test) {
  const direct = await createTestDatabase(t)
  const target = new URL(direct)
  const proxy = await startTCPProxy(t, { host: target.hostname, port: Number(target.port) })
  const logs = capture()
  const app = await build(t, { databaseUrl: proxy.url(direct), loggerInstance: logs.log, env: { RATE_LIMIT_ENABLED: 'false', DATABASE_URL: proxy.url(direct), DATABASE_CONNECT_TIMEOUT: '2' } })
  const admin = await createAdmin(app)
  const pwd = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const web = await createClient(app, { grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  return { app, proxy, logs, admin, pwd, web, username, password }
}

async function waitFor (what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function assertUnavailable (t: Test, res: Awaited<ReturnType<FastifyInstance['inject']>>, what: string) {
  t.equal(res.statusCode, 503, `${what}: 503`)
  t.same(res.json(), { error: 'temporarily_unavailable', error_description: res.json().error_description }, `${what}: RFC 6749 body`)
  t.ok(Number(res.headers['retry-after']) > 0, `${what}: Retry-After`)
  t.equal(res.headers['cache-control'], 'no-store', `${what}: no-store`)
}

async function everyEndpoint (s: Awaited<ReturnType<typeof setup>>, t: Test) {
  const { app } = s
  const password = await postForm(app, '/token', { grant_type: 'password', username: s.username, password: s.password }, { authorization: s.pwd.basic })
  assertUnavailable(t, password, 'password grant')
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: s.admin.refreshToken }, { authorization: s.admin.console.basic })
  assertUnavailable(t, refresh, 'refresh grant')
  const revoke = await postForm(app, '/revoke', { token: s.admin.refreshToken }, { authorization: s.admin.console.basic })
  assertUnavailable(t, revoke, 'revocation')
  const introspect = await postForm(app, '/introspect', { token: s.admin.refreshToken }, { authorization: s.admin.console.basic })
  assertUnavailable(t, introspect, 'introspection')
  const admin = await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: s.admin.authorization } })
  assertUnavailable(t, admin, 'admin API')
  const page = await app.inject({ method: 'GET', url: `/authorize?client_id=${s.web.client.id}&redirect_uri=${encodeURIComponent(CB)}&response_type=code&scope=openid&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256` })
  t.equal(page.statusCode, 503, 'browser page: 503')
  t.match(page.headers['content-type'], /text\/html/, 'browser page: an HTML page')
  t.match(page.body, /temporarily unavailable/i)
  t.ok(Number(page.headers['retry-after']) > 0, 'browser page: Retry-After')
  t.equal(page.headers['cache-control'], 'no-store')
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 503, '/readyz fails during the outage')
  t.equal(ready.json().checks.database, 'unreachable')
}

async function recovers (s: Awaited<ReturnType<typeof setup>>, t: Test) {
  await waitFor('readiness', async () => (await s.app.inject('/readyz')).statusCode === 200)
  const res = await postForm(s.app, '/token', { grant_type: 'password', username: s.username, password: s.password }, { authorization: s.pwd.basic })
  t.equal(res.statusCode, 200, 'logins work again once the database is back')
  await waitFor('the recovery line', async () => s.logs.lines.some((l) => l.msg === 'database recovered'))
}

t.test('connections refused: 503 everywhere, one line per transition, recovery', async (t) => {
  const s = await setup(t)
  await s.proxy.refuse()
  const before = s.logs.bytes()
  await everyEndpoint(s, t)
  for (let i = 0; i < 30; i++) {
    await postForm(s.app, '/token', { grant_type: 'password', username: s.username, password: s.password }, { authorization: s.pwd.basic })
  }
  const down = s.logs.lines.filter((l) => l.msg === 'database unavailable')
  t.equal(down.length, 1, 'the outage is logged once')
  t.match(down[0].error_code, /^(ECONNREFUSED|ECONNRESET|ConnectionClosed|DatabaseNotReachable|connection_lost)$/, `with its code, unredacted (${down[0].error_code})`)
  t.notOk(s.logs.lines.some((l) => l.msg === 'unhandled error'), 'no "unhandled error" per request')
  t.notOk(s.logs.lines.some((l) => JSON.stringify(l).includes('    at ')), 'no stack trace in any line')
  const perRequest = (s.logs.bytes() - before) / 35
  t.ok(perRequest < 600, `log volume per failed request stays small (${Math.round(perRequest)} bytes)`)

  await s.proxy.resume()
  await recovers(s, t)
  const recovered = s.logs.lines.filter((l) => l.msg === 'database recovered')
  t.equal(recovered.length, 1, 'the recovery is logged once')
  t.ok(recovered[0].down_ms >= 0)
  t.ok(recovered[0].failed_requests >= 35, 'and says how many requests failed meanwhile')
})

t.test('connections reset (restart / failover): 503, then recovery', async (t) => {
  const s = await setup(t)
  // Break the pooled connections and refuse new ones, like a restarting server.
  await s.proxy.refuse()
  await everyEndpoint(s, t)
  await s.proxy.resume()
  await recovers(s, t)
  s.proxy.resetAll() // established connections die under the pool: one failure at most, then fine
  const statuses = []
  for (let i = 0; i < 5; i++) {
    statuses.push((await postForm(s.app, '/token', { grant_type: 'password', username: s.username, password: s.password }, { authorization: s.pwd.basic })).statusCode)
  }
  t.ok(statuses.every((s) => s === 200 || s === 503), `never a 500 (${statuses})`)
  t.equal(statuses.at(-1), 200)
})

t.test('blackholed database: requests end in 503 within the connection timeout, not hang', async (t) => {
  const s = await setup(t)
  s.proxy.pause()
  s.proxy.resetAll() // pooled connections gone; new ones connect into silence
  const started = Date.now()
  const res = await postForm(s.app, '/token', { grant_type: 'password', username: s.username, password: s.password }, { authorization: s.pwd.basic })
  assertUnavailable(t, res, 'blackholed')
  t.ok(Date.now() - started < 4_000, `answered in ${Date.now() - started} ms`)
  await s.proxy.resume()
  await recovers(s, t)
})

t.test('classification of connection errors', async (t) => {
  const errno = (code: string) => Object.assign(new Error('x'), { code })
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01', '57P03', '08006', '08001', 'P1001', 'P1017', 'P2024']) {
    t.ok(isDatabaseUnavailable(errno(code)), code)
  }
  t.ok(isDatabaseUnavailable(new Error('wrapped', { cause: errno('ECONNREFUSED') })), 'through a cause chain')
  t.ok(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect')), 'pg pool timeout')
  t.ok(isDatabaseUnavailable(new Error('Connection terminated unexpectedly')), 'pg connection end')
  t.ok(isDatabaseUnavailable(Object.assign(new Error('x'), { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable' } })), 'Prisma adapter kinds')
  t.notOk(isDatabaseUnavailable(errno('23505')), 'a unique violation is not an outage')
  t.notOk(isDatabaseUnavailable(errno('P2002')))
  t.notOk(isDatabaseUnavailable(new Error('boom')))
})

t.test('error codes are never redacted from logged errors; credentials named code still are', async (t) => {
  const logs = capture()
  const err = Object.assign(new Error('outer', { cause: Object.assign(new Error('inner'), { code: '57P01' }) }), { code: 'P1017' })
  logs.log.error({ err, body: { code: 'an-authorization-code-value-1234567890abcdef' } }, 'something failed')
  const line = logs.lines[0]
  t.equal(line.err.error_code, 'P1017 < 57P01', 'the Prisma code and the SQLSTATE under it')
  t.equal(line.body.code, '[Redacted]', 'an OAuth code parameter stays redacted')
  t.notOk(JSON.stringify(line).includes('an-authorization-code-value'))
  t.equal(errorWithCodes(Object.assign(new Error('x'), { code: 'ECONNRESET' })).error_code, 'ECONNRESET')
  t.equal(errorWithCodes(Object.assign(new Error('x'), { code: 'abc-def-secret-code-value' })).error_code, undefined, 'a code-shaped secret is not copied')
})
