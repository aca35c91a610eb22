/**
 * Prometheus metrics (prom-client, one registry per app so tests can build several):
 *
 * - `stamp_tokens_issued_total{grant_type}`
 * - `stamp_oauth_errors_total{error}`: every error response, by RFC 6749 code
 * - `stamp_login_failures_total{reason}`: failed and throttled logins
 * - `stamp_audit_events_total{type}`
 * - `stamp_audit_write_failures_total{type}`: events that could not be stored (logged at error)
 * - `stamp_http_request_duration_seconds{method,route,status_code}`: histogram; `route` is the
 *   route pattern (never the raw URL, which would carry ids and unbounded cardinality)
 * - `stamp_signing_key_age_seconds{kid,status}`: since activation (active key) or creation
 * - `stamp_db_pool_connections{state}`: the pg pool's `total`, `idle` and `waiting` (requests
 *   queued for a connection: a sustained non-zero value means the pool is the bottleneck), and
 *   `stamp_db_pool_max`
 * - `stamp_dependency_up{dependency}` (database, redis) and
 *   `stamp_dependency_outages_total{dependency}`: transitions to down since start
 * - `stamp_redis_fallback`: 1 while Redis is configured but unreachable, so rate limits and the
 *   login throttle count per instance
 * - `stamp_clock_skew_seconds`: this process's clock minus PostgreSQL's, at the last check
 * - with METRICS_TOKEN set, prom-client's default process and Node.js runtime metrics
 *   (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`,
 *   `nodejs_heap_size_used_bytes`, GC durations…)
 * - `stamp_purged_rows_total{table}`, `stamp_purge_passes_total{outcome}`: retention
 *
 * `GET /metrics` (Prometheus text format 0.0.4) needs `Authorization: Bearer $METRICS_TOKEN`,
 * compared in constant time; without METRICS_TOKEN the route does not exist. A bearer token is
 * what Prometheus' `authorization` scrape setting sends, and unlike "a separate listener" it
 * protects the endpoint however the server is exposed (the metrics reveal key ids, client
 * activity and error rates, which are useful to an attacker).
 *
 * @module
 */
import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { InvalidToken } from '../errors.js'

export interface StampMetrics {
  registry: Registry
  tokensIssued: Counter<'grant_type'>
  errors: Counter<'error'>
  loginFailures: Counter<'reason'>
  auditEvents: Counter<'type'>
  auditWriteFailures: Counter<'type'>
  requestDuration: Histogram<'method' | 'route' | 'status_code'>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: StampMetrics
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest()

export default fp(async function metricsPlugin (app: FastifyInstance) {
  const registry = new Registry()
  const metrics: StampMetrics = {
    registry,
    tokensIssued: new Counter({ name: 'stamp_tokens_issued_total', help: 'Token responses issued, by grant type', labelNames: ['grant_type'], registers: [registry] }),
    errors: new Counter({ name: 'stamp_oauth_errors_total', help: 'Error responses, by RFC 6749 error code', labelNames: ['error'], registers: [registry] }),
    loginFailures: new Counter({ name: 'stamp_login_failures_total', help: 'Failed or throttled login attempts', labelNames: ['reason'], registers: [registry] }),
    auditEvents: new Counter({ name: 'stamp_audit_events_total', help: 'Security events written to the audit trail, by type', labelNames: ['type'], registers: [registry] }),
    auditWriteFailures: new Counter({ name: 'stamp_audit_write_failures_total', help: 'Security events that could not be stored in the audit trail, by type', labelNames: ['type'], registers: [registry] }),
    requestDuration: new Histogram({
      name: 'stamp_http_request_duration_seconds',
      help: 'Request latency, by route pattern',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  }
  new Gauge({
    name: 'stamp_signing_key_age_seconds',
    help: 'Age of each published signing key: since activation for the active key, since creation otherwise',
    labelNames: ['kid', 'status'],
    registers: [registry],
    collect () {
      this.reset()
      const now = Date.now()
      for (const key of app.keyring.published()) {
        const since = key.status === 'active' ? (key.activatedAt ?? key.createdAt) : key.createdAt
        this.set({ kid: key.kid, status: key.status }, Math.max(0, (now - since.getTime()) / 1000))
      }
    },
  })

  const pool = app.dbPool
  new Gauge({
    name: 'stamp_db_pool_connections',
    help: 'PostgreSQL pool connections: total open, idle, and requests waiting for one',
    labelNames: ['state'],
    registers: [registry],
    collect () {
      this.set({ state: 'total' }, pool.totalCount)
      this.set({ state: 'idle' }, pool.idleCount)
      this.set({ state: 'waiting' }, pool.waitingCount)
    },
  })
  const poolMax = pool.options.max ?? 10
  new Gauge({ name: 'stamp_db_pool_max', help: 'Largest number of connections the pool opens', registers: [registry], collect () { this.set(poolMax) } })
  const monitors = () => [app.databaseMonitor, ...(app.redisMonitor ? [app.redisMonitor] : [])]
  new Gauge({
    name: 'stamp_dependency_up',
    help: 'Whether a dependency answers (1) or is in an outage (0)',
    labelNames: ['dependency'],
    registers: [registry],
    collect () { for (const m of monitors()) this.set({ dependency: m.name }, m.up ? 1 : 0) },
  })
  new Counter({
    name: 'stamp_dependency_outages_total',
    help: 'Outages (transitions to unreachable) of a dependency since start',
    labelNames: ['dependency'],
    registers: [registry],
    collect () {
      this.reset()
      for (const m of monitors()) this.inc({ dependency: m.name }, m.outages)
    },
  })
  new Gauge({
    name: 'stamp_redis_fallback',
    help: '1 while Redis is configured but unreachable: rate limits and login throttling count per instance',
    registers: [registry],
    collect () { this.set(app.redisMonitor && !app.redisMonitor.up ? 1 : 0) },
  })
  new Gauge({
    name: 'stamp_clock_skew_seconds',
    help: 'This process clock minus PostgreSQL\'s, at the last check (CLOCK_SKEW_MAX bounds its absolute value)',
    registers: [registry],
    collect () {
      const skew = app.clockGuard.skewMs
      if (skew !== undefined) this.set(skew / 1000)
    },
  })

  app.audit.onEvent((event) => {
    metrics.auditEvents.inc({ type: event.type })
    if (event.type === 'login_failed') metrics.loginFailures.inc({ reason: String(event.detail?.reason ?? 'unknown') })
    if (event.type === 'login_throttled') metrics.loginFailures.inc({ reason: 'throttled' })
  })

  app.audit.onWriteFailure((event) => { metrics.auditWriteFailures.inc({ type: event.type }) })
  // Retention: rows each pass deleted, and how passes ended (skipped = another instance purged).
  const purgedRows = new Counter({ name: 'stamp_purged_rows_total', help: 'Rows deleted by retention, by table', labelNames: ['table'], registers: [registry] })
  const purgePasses = new Counter({ name: 'stamp_purge_passes_total', help: 'Retention passes, by outcome (complete, incomplete, skipped, failed)', labelNames: ['outcome'], registers: [registry] })
  app.retention.onPass((pass) => {
    purgePasses.inc({ outcome: pass.outcome })
    if (pass.outcome === 'complete' || pass.outcome === 'incomplete') {
      for (const [table, rows] of Object.entries(pass.report.removed)) purgedRows.inc({ table }, rows)
    }
  })

  app.decorate('metrics', metrics)

  const token = app.config.metricsToken
  if (token) {
    // Process and runtime metrics sample the event loop continuously: only when they are served.
    collectDefaultMetrics({ register: registry })
    // The latency histogram is the one per-request cost of metrics: pay it only when they are served.
    app.addHook('onResponse', async (request, reply) => {
      metrics.requestDuration.observe({
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      }, reply.elapsedTime / 1000)
    })

    const expected = digest(`Bearer ${token}`)
    app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
      const presented = request.headers.authorization
      // Hash both sides: timingSafeEqual needs equal lengths, and the length must not leak either.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        throw new InvalidToken('a valid metrics bearer token is required', { headers: { 'www-authenticate': 'Bearer realm="stamp-metrics"' } })
      }
      return reply.header('cache-control', 'no-store').type(registry.contentType).send(await registry.metrics())
    })
  }
}, { name: 'metrics', dependencies: ['services'] })
