/**
 * /metrics beyond the application counters: process and Node.js runtime metrics, the pg pool's
 * usage, dependency outages (through a TCP proxy in front of PostgreSQL) and the clock skew.
 */
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createTestDatabase, createUser, postForm } from '../helper.js'
import { startTCPProxy } from '../fixtures/tcp_proxy.js'

const METRICS_TOKEN = 'm'.repeat(40)

async function scrape (app: FastifyInstance): Promise<string> {
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  if (res.statusCode !== 200) throw new Error(`scrape failed: ${res.statusCode}`)
  return res.body
}

function value (metrics: string, series: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? NaN : Number(line.slice(series.length + 1))
}

t.test('process, runtime, pool, dependency and clock metrics', async (t) => {
  const direct = await createTestDatabase(t)
  const target = new URL(direct)
  const proxy = await startTCPProxy(t, { host: target.hostname, port: Number(target.port) })
  const app = await build(t, { databaseUrl: proxy.url(direct), env: { METRICS_TOKEN, DATABASE_URL: proxy.url(direct), DATABASE_CONNECT_TIMEOUT: '2' } })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password'], scopes: ['read'] })
  const { username, password } = await createUser(app)

  let metrics = await scrape(app)
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) {
    t.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `${name} exported`)
  }
  t.equal(value(metrics, 'stamp_db_pool_max'), 5)
  t.ok(value(metrics, 'stamp_db_pool_connections{state="total"}') >= 1, 'open connections')
  t.ok(value(metrics, 'stamp_db_pool_connections{state="idle"}') >= 0)
  t.equal(value(metrics, 'stamp_db_pool_connections{state="waiting"}'), 0)
  t.equal(value(metrics, 'stamp_dependency_up{dependency="database"}'), 1)
  t.equal(value(metrics, 'stamp_dependency_outages_total{dependency="database"}'), 0)
  t.equal(value(metrics, 'stamp_redis_fallback'), 0, 'no Redis configured: nothing to fall back from')
  t.ok(Math.abs(value(metrics, 'stamp_clock_skew_seconds')) < 1, 'clock skew measured at boot')

  // Hold every pooled connection: the next query waits, and the gauge shows it.
  const held = await Promise.all(Array.from({ length: 5 }, () => app.dbPool.connect()))
  const waiting = app.dbPool.query('SELECT 1')
  metrics = await scrape(app)
  t.equal(value(metrics, 'stamp_db_pool_connections{state="total"}'), 5)
  t.equal(value(metrics, 'stamp_db_pool_connections{state="idle"}'), 0)
  t.equal(value(metrics, 'stamp_db_pool_connections{state="waiting"}'), 1, 'a request waits for a connection')
  for (const c of held) c.release()
  await waiting

  await proxy.refuse()
  const res = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })
  t.equal(res.statusCode, 503)
  metrics = await scrape(app)
  t.equal(value(metrics, 'stamp_dependency_up{dependency="database"}'), 0, 'the outage shows')
  t.equal(value(metrics, 'stamp_dependency_outages_total{dependency="database"}'), 1, 'and is counted once')
  t.ok(value(metrics, 'stamp_oauth_errors_total{error="temporarily_unavailable"}') >= 1)
  t.notOk(/stamp_oauth_errors_total\{error="server_error"\}/.test(metrics), 'not counted as server errors')
  await proxy.resume()
})
