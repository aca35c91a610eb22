/**
 * Liveness and readiness probes, for the container HEALTHCHECK, orchestrators and the proxy.
 *
 * - `/healthz`: the process answers HTTP. Nothing else: a liveness probe that checks the
 *   database would restart every instance when PostgreSQL blips.
 * - `/readyz`: this instance can issue tokens now: PostgreSQL answers and an active signing key
 *   is loaded. Turns 503 as soon as a graceful shutdown starts, so a balancer that polls it stops
 *   sending new work before the listener goes away.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'

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
    const checks = { database: 'ok', signing_key: 'ok', shutting_down: closing }
    try {
      await app.prisma.$queryRaw`SELECT 1`
    } catch (err) {
      request.log.warn({ err }, 'readiness: database unreachable')
      checks.database = 'unreachable'
    }
    try {
      app.keyring.signingKey()
    } catch {
      checks.signing_key = 'missing'
    }
    const ready = !closing && checks.database === 'ok' && checks.signing_key === 'ok'
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks })
  })
}
