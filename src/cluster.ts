/**
 * `stamp serve --workers N`: N worker processes (node:cluster) sharing one listening port, so one
 * host uses every core. Each worker is a complete Stamp instance (own pool, own keyring polling
 * the shared key set); PostgreSQL is what they share, exactly as separate hosts would.
 *
 * The primary applies pending migrations once, forks the workers, replaces a worker that dies
 * unexpectedly (giving up on a crash loop), and on SIGTERM/SIGINT forwards the signal to every
 * worker and waits for them to drain (SHUTDOWN_TIMEOUT, plus a second of slack, then SIGKILL).
 *
 * The embedded database (PGlite) is one in-process session guarded by a pid lock: it cannot be
 * shared, so without DATABASE_URL Stamp runs a single process and says so.
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import pino from 'pino'
import type { Config } from './config/env.js'
import { createPrisma, openDatabase } from './db/connection.js'
import { Keyring, loadKEKFor } from './domain/keyring.js'
import { prismaKeyStore } from './storage/prisma/keys.js'
import { migrate } from './db/migrate.js'
import { loggerOptions } from './logging.js'
import { serve } from './server.js'

/** A worker that dies sooner than this after its start counts as a crash loop. */
const MIN_UPTIME_MS = 5_000
const MAX_QUICK_CRASHES = 5

export function defaultWorkers (): number {
  return availableParallelism()
}

/** How many workers will actually run, and why when that differs from the request. */
export function effectiveWorkers (config: Pick<Config, 'databaseUrl'>, requested: number): { workers: number, reason?: string } {
  if (requested > 1 && !config.databaseUrl) {
    return { workers: 1, reason: 'the embedded database cannot be shared between processes; set DATABASE_URL to run several workers' }
  }
  return { workers: requested }
}

export async function serveWorkers (config: Config, requested = config.workers ?? defaultWorkers()): Promise<void> {
  if (cluster.isWorker) return serve(config, { migrate: false })

  const log = pino(loggerOptions(config.logLevel))
  const { workers, reason } = effectiveWorkers(config, requested)
  if (reason) log.warn({ requested, workers }, `running 1 worker: ${reason}`)
  if (workers === 1) return serve(config)

  // Migrate and make sure the signing keys exist once, here: a failing migration or a wrong KEK
  // then stops the start instead of crash-looping N workers, and the workers do not all queue on
  // the key lock at their first start.
  const database = await openDatabase(config)
  try {
    const { applied } = await migrate(database.url)
    if (applied.length) log.info({ applied }, 'migrations applied')
    const prisma = createPrisma({ url: database.url, poolMax: 1 })
    try {
      const store = prismaKeyStore(prisma)
      const keyring = new Keyring({ store, kek: await loadKEKFor(config, store, log), policy: config.policy, log })
      await keyring.start({ schedule: false })
    } finally {
      await prisma.$disconnect()
    }
  } finally {
    await database.close()
  }

  let stopping = false
  let quickCrashes = 0
  const started = new Map<number, number>()
  const fork = (): Worker => {
    const worker = cluster.fork()
    started.set(worker.id, Date.now())
    return worker
  }

  cluster.on('exit', (worker, code, signal) => {
    const uptime = Date.now() - (started.get(worker.id) ?? 0)
    started.delete(worker.id)
    if (stopping) {
      log.info({ worker: worker.id, exit_code: code, signal }, 'worker stopped')
      if (started.size === 0) {
        log.info('all workers stopped')
        process.exit(process.exitCode ?? 0)
      }
      return
    }
    quickCrashes = uptime < MIN_UPTIME_MS ? quickCrashes + 1 : 0
    if (quickCrashes >= MAX_QUICK_CRASHES) {
      log.fatal({ worker: worker.id, exit_code: code, signal }, `workers keep dying within ${MIN_UPTIME_MS} ms of starting; giving up`)
      process.exitCode = 1
      shutdown('SIGTERM')
      return
    }
    log.error({ worker: worker.id, exit_code: code, signal, uptime_ms: uptime }, 'worker died; starting a replacement')
    fork()
  })

  const killAll = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL')
    process.exit(1)
  }
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    // Always SIGTERM: workers ignore SIGINT, which a terminal's Ctrl-C sends them directly as well
    // (same process group); counting it would make the forwarded one a "second signal".
    log.info({ signal, workers: started.size }, 'shutting down: forwarding SIGTERM to the workers')
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    if (started.size === 0) process.exit(process.exitCode ?? 0)
    // Each worker enforces SHUTDOWN_TIMEOUT itself; this only catches a worker that hangs anyway.
    setTimeout(() => {
      log.error({ remaining: started.size }, 'workers did not stop in time; killing them')
      killAll()
    }, config.shutdownTimeout * 1000 + 1000).unref()
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) return shutdown(signal)
    log.error({ signal }, 'second signal; killing the workers')
    killAll()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  for (let i = 0; i < workers; i++) fork()
  log.info({ workers }, 'primary started workers')
}
