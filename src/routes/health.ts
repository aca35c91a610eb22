/**
 * Liveness and readiness probes, for the container HEALTHCHECK, orchestrators and the proxy.
 *
 * - `/healthz`: the process answers HTTP. Nothing else: a liveness probe that checks the
 *   database would restart every instance when PostgreSQL blips.
 * - `/readyz`: this instance can issue tokens now: PostgreSQL answers, an active signing key is
 *   loaded, and this host's clock agrees with PostgreSQL's within CLOCK_SKEW_MAX (a skewed host
 *   issues tokens that are already expired, or not yet valid; see domain/clock_guard.ts). Turns
 *   503 as soon as a graceful shutdown starts, so a balancer that polls it stops sending new work
 *   before the listener goes away. Redis is reported (`degraded` while unreachable) but never
 *   fails readiness: without it each instance counts rate limits and login failures on its own,
 *   which is a weaker limit, not an outage.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { databaseOutageCode, shortMessage } from '../db/outage.js'

export default async function healthRoutes (app: FastifyInstance) {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // Probes are polled every few seconds; logging each one would bury the real traffic.
  const options = { logLevel: 'warn' as const }

  app.get('/healthz', options, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send({ status: 'ok' })
  })

  app.get('/readyz', options, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const checks: Record<string, string | boolean | number> = { database: 'ok', signing_key: 'ok', clock: 'ok', shutting_down: closing }
    try {
      // One round trip answers both "is PostgreSQL there" and "does our clock agree with it".
      const reading = await app.clockGuard.check()
      app.databaseMonitor.recovered()
      checks.clock_skew_ms = reading.skewMs
      if (!reading.ok) checks.clock = 'skewed'
    } catch (err) {
      const code = databaseOutageCode(err)
      // An outage is logged by the monitor, once; anything else is worth its own line.
      if (code) app.databaseMonitor.failed(code, shortMessage(err))
      else request.log.warn({ err }, 'readiness: database check failed')
      checks.database = 'unreachable'
      checks.clock = 'unknown'
    }
    if (app.redisMonitor) checks.redis = app.redisMonitor.up ? 'ok' : 'degraded'
    try {
      app.keyring.signingKey()
    } catch {
      checks.signing_key = 'missing'
    }
    const ready = !closing && checks.database === 'ok' && checks.signing_key === 'ok' && checks.clock === 'ok'
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks })
  })
}
