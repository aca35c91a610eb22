/**
 * Process entry: configuration, logger, database (migrated), listen, and graceful shutdown.
 *
 * @module
 */
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config/env.js'
import { openDatabase } from './db/connection.js'
import { migrate } from './db/migrate.js'
import { loggerOptions } from './logging.js'

export async function serve (config: Config): Promise<void> {
  const log = pino(loggerOptions(config.logLevel))
  const database = await openDatabase(config)
  const { applied } = await migrate(database.url)
  if (applied.length) log.info({ applied }, 'migrations applied')
  const app = await buildApp({ config, database, loggerInstance: log })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal }, 'shutting down')
    await app.close()
    await database.close()
  })

  await app.listen({ port: config.port, host: config.host })
  log.info({ issuer: config.issuer, embedded: database.embedded }, 'stamp is ready')
}

// Run when executed directly (npm start), not when imported by the CLI.
if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await serve(loadConfig())
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `stamp failed to start: ${(err as Error).message}`)
    process.exit(1)
  }
}
