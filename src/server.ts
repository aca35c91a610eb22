/**
 * Process entry: configuration, logger, database (migrated), listen, and graceful shutdown.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting connections, let in-flight requests finish, close the
 * database pool, exit 0, all within SHUTDOWN_TIMEOUT seconds; past it, exit 1 anyway. A second
 * signal exits at once. Under `stamp serve --workers N` each worker runs this same `serve` and the
 * primary (`cluster.ts`) forwards the signal.
 *
 * @module
 */
import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config/env.js'
import { openDatabase } from './db/connection.js'
import { migrate } from './db/migrate.js'
import { loggerOptions } from './logging.js'

export interface ServeOptions {
  /** Apply pending migrations first (the cluster primary already did, so its workers skip it). */
  migrate?: boolean
}

export async function serve (config: Config, options: ServeOptions = {}): Promise<void> {
  const worker = cluster.isWorker ? cluster.worker!.id : undefined
  const log = pino(loggerOptions(config.logLevel)).child(worker === undefined ? {} : { worker })
  const database = await openDatabase(config)
  if (options.migrate ?? true) {
    const { applied } = await migrate(database.url)
    if (applied.length) log.info({ applied }, 'migrations applied')
  }
  const instanceTag = config.instanceName && (worker === undefined ? config.instanceName : `${config.instanceName}/${worker}`)
  let app
  try {
    app = await buildApp({ config, database, loggerInstance: log, instanceTag })
  } catch (err) {
    await database.close()
    throw err
  }
  // Migrated and keyed: CLI commands may now work beside this process on the embedded database.
  database.share?.()

  // A cluster worker ignores SIGINT: Ctrl-C reaches the whole process group, and the primary
  // forwards it as SIGTERM; reacting to both would count as a second signal and skip the drain.
  if (worker !== undefined) process.on('SIGINT', () => {})
  const grace = closeWithGrace({
    skip: worker === undefined ? [] : ['SIGINT'],
    delay: config.shutdownTimeout * 1000,
    onTimeout: (delay) => log.error({ timeout_ms: delay }, 'shutdown timed out; exiting with requests still open'),
    onSecondSignal: (signal) => log.error({ signal }, 'second signal; exiting now'),
  }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal }, 'shutting down: draining in-flight requests')
    const started = Date.now()
    await app.close() // stops the listener, waits for in-flight requests, then closes the Prisma pool
    await database.close()
    log.info({ ms: Date.now() - started }, 'shutdown complete')
  })

  let address: string
  try {
    address = await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    grace.uninstall()
    await app.close()
    await database.close()
    throw err
  }
  log.info({ address, issuer: config.issuerFromProxy ? 'from X-Forwarded-Proto/Host' : config.issuer, embedded: database.embedded }, 'stamp is ready')
}

/** Prints a startup failure: a bad configuration is named plainly, anything else prefixed. */
export function startupFailure (err: unknown): string {
  return err instanceof ConfigError ? err.message : `stamp failed to start: ${(err as Error).message}`
}

// Run when executed directly (npm start), not when imported by the CLI.
if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await serve(loadConfig())
  } catch (err) {
    console.error(startupFailure(err))
    process.exit(1)
  }
}
