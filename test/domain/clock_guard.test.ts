/**
 * The clock guard: this process's clock against PostgreSQL's. An injected process clock (the
 * database clock stays real) for jumps in either direction, and faketime on child processes for
 * the CLI and the server.
 */
import t, { type Test } from 'tap'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { build, createTestDatabase } from '../helper.js'
import { fakeClock, statuses } from '../fixtures/keys.js'
import { KeyLifecycleError } from '../../src/domain/keyring.js'
import { stampEnv } from '../fixtures/deploy.js'
import { CLI, run, startServer, freePort } from '../fixtures/process.js'

const ENV = { ACCESS_TOKEN_TTL: '60', REFRESH_TOKEN_TTL: '120', JWKS_MAX_AGE: '30', KEY_REFRESH_INTERVAL: '2', KEY_ROTATION_INTERVAL: '600', CLOCK_SKEW_MAX: '30' }
const PRE_PUBLICATION = 32

/** PostgreSQL's clock, on a connection of its own. */
async function databaseClock (t: { teardown(fn: () => unknown): void }, url: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  return async () => (await client.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now
}

/** The real time plus an offset the test moves: a host clock that jumps. */
function jumpingClock () {
  let offset = 0
  return { now: () => new Date(Date.now() + offset), advance (seconds: number) { offset += seconds * 1000 } }
}

async function setup (t: Test) {
  const url = await createTestDatabase(t)
  const processClock = jumpingClock()
  const app = await build(t, { databaseUrl: url, env: ENV, now: processClock.now, databaseNow: await databaseClock(t, url) })
  return { app, processClock }
}

const readiness = async (app: FastifyInstance) => {
  const res = await app.inject('/readyz')
  return { status: res.statusCode, checks: res.json().checks }
}

t.test('a forward jump: not ready, no key promoted, rotation refused; back to normal once corrected', async (t) => {
  const { app, processClock } = await setup(t)
  t.equal((await readiness(app)).status, 200)
  const before = await statuses(app)
  const active = app.keyring.signingKey().kid

  processClock.advance(700) // past the rotation interval and the next key's pre-publication
  await app.keyring.tick()
  t.equal(app.keyring.signingKey().kid, active, 'the scheduled rotation did not promote a key published seconds ago')
  t.same(await statuses(app), before, 'no key changed')
  const skewed = await readiness(app)
  t.equal(skewed.status, 503, '/readyz fails')
  t.equal(skewed.checks.clock, 'skewed')
  t.ok(skewed.checks.clock_skew_ms > 690_000, `skew measured: ${skewed.checks.clock_skew_ms} ms`)
  await t.rejects(app.keyring.rotate({ force: true }), KeyLifecycleError, 'a manual rotation is refused, even forced')
  await t.rejects(app.keyring.rotate({ force: true }), /refusing to rotate the signing keys: this host's clock is 70\d(\.\d)? s ahead of PostgreSQL's \(CLOCK_SKEW_MAX is 30 s\)/)
  const metrics = await app.metrics.registry.metrics()
  const gauge = Number(/^stamp_clock_skew_seconds (\S+)$/m.exec(metrics)?.[1])
  t.ok(gauge > 690 && gauge < 710, `stamp_clock_skew_seconds ${gauge}`)

  processClock.advance(-700) // NTP corrects the clock
  t.equal((await readiness(app)).status, 200, 'ready again')
  const rotated = await app.keyring.rotate({ force: true })
  t.equal(rotated.retiring, active, 'rotation works again')
})

t.test('a backward jump: not ready (tokens would be issued already expired)', async (t) => {
  const { app, processClock } = await setup(t)
  processClock.advance(-3600)
  const skewed = await readiness(app)
  t.equal(skewed.status, 503)
  t.equal(skewed.checks.clock, 'skewed')
  t.ok(skewed.checks.clock_skew_ms < -3_590_000)
})

t.test('key timestamps come from the database clock, within the tolerated skew too', async (t) => {
  const { app, processClock } = await setup(t)
  processClock.advance(25) // ahead, but within CLOCK_SKEW_MAX
  t.equal((await readiness(app)).status, 200)
  const result = await app.keyring.rotate({ force: true })
  const [{ now }] = await app.prisma.$queryRaw<[{ now: Date }]>`SELECT clock_timestamp() AS now`
  const active = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: result.active } })
  const next = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: result.next } })
  const retiring = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: result.retiring } })
  for (const [name, at] of [['activated', active.activatedAt!], ['created', next.createdAt], ['retiring', retiring.retiringAt!]] as const) {
    t.ok(Math.abs(now.getTime() - at.getTime()) < 5_000, `${name} at the database's time (${now.getTime() - at.getTime()} ms), not the process's (+25 s)`)
  }
})

t.test('a next key dated in the future is re-dated, not a reason to wedge rotation', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now }) // one clock for both: no skew here
  const before = await statuses(app)
  const next = Object.keys(before).find((k) => before[k] === 'next')!
  const active = app.keyring.signingKey().kid
  // Written by a host whose clock was a day ahead (or by Stamp before the clock guard).
  await app.prisma.signingKey.update({ where: { kid: next }, data: { createdAt: new Date(clock.now().getTime() + 86_400_000) } })
  await app.prisma.signingKey.update({ where: { kid: active }, data: { activatedAt: new Date(clock.now().getTime() + 86_400_000) } })
  await app.keyring.refresh()

  clock.advance(10)
  await app.keyring.tick()
  const row = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: next } })
  t.equal(row.createdAt.getTime(), clock.now().getTime(), 'the next key is re-dated to the database clock')
  const activeRow = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: active } })
  t.equal(activeRow.activatedAt!.getTime(), clock.now().getTime(), 'and so is the active key')

  await t.rejects(app.keyring.rotate(), /less than JWKS_MAX_AGE/, 'it still gets its full pre-publication period')
  clock.advance(PRE_PUBLICATION)
  const rotated = await app.keyring.rotate()
  t.equal(rotated.active, next, 'then rotation works, not a day later')

  clock.advance(600 + PRE_PUBLICATION)
  await app.keyring.tick()
  t.not(app.keyring.signingKey().kid, next, 'and so does the scheduled one')
})

t.test('faketime: `stamp keys rotate` refuses on a skewed host; `stamp serve` is not ready', async (t) => {
  const url = await createTestDatabase(t)
  const env = stampEnv(url, { WORKERS: '1', LOG_LEVEL: 'warn' })
  const list = await run(process.execPath, [CLI, 'keys', 'list', '--json'], { env })
  t.equal(list.code, 0, list.stderr)

  const ahead = await run('faketime', ['-f', '+1d', process.execPath, CLI, 'keys', 'rotate', '--force'], { env })
  t.not(ahead.code, 0, 'refused')
  t.match(ahead.stderr, /refusing to rotate the signing keys: this host's clock is 864\d\d(\.\d)? s ahead of PostgreSQL's \(CLOCK_SKEW_MAX is 30 s\); fix the clock/)
  t.same(JSON.parse((await run(process.execPath, [CLI, 'keys', 'list', '--json'], { env })).stdout), JSON.parse(list.stdout), 'no key changed')

  const port = await freePort()
  const server = await startServer(['faketime', '-f', '-1h', process.execPath, CLI, 'serve'], { ...env, PORT: String(port), LOG_LEVEL: 'info' })
  t.teardown(() => server.stop('SIGKILL'))
  t.match(server.output(), /clock skew: this host's clock is 3600 s behind PostgreSQL's/, 'a warning at boot')
  const res = await fetch(`http://127.0.0.1:${port}/readyz`)
  t.equal(res.status, 503)
  t.equal(((await res.json()) as { checks: { clock: string } }).checks.clock, 'skewed')
  await server.stop('SIGTERM')
})
