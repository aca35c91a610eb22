#!/usr/bin/env node
/**
 * The `stamp` command. Same environment variables as the server; `--json` prints one JSON
 * object on stdout; errors go to stderr with exit code 1 (2 for usage errors).
 *
 * @module
 */
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from '../config/env.js'
import { migrate } from '../db/migrate.js'
import { openDatabase } from '../db/connection.js'
import { clientCommand } from './client.js'
import { consentCommand } from './consent.js'
import { keysCommand } from './keys.js'
import { CommandError, print, UsageError } from './output.js'
import { userCommand } from './user.js'
import { auditCommand } from './audit.js'
import { registrationCommand } from './registration.js'

const USAGE = `usage: stamp <command>

  serve [--workers N]            start the server; N worker processes share the port
                                 (default: WORKERS, else one per CPU; 1 without DATABASE_URL)
  migrate [--json]               apply pending database migrations
  user create ...                create a user
  client create ...              register a client
  client update ID --[no-]require-pkce   require PKCE at /authorize (or not)
  consent revoke --user U --client C   forget a user's consent for a client
  keys list|rotate|revoke|rewrap manage signing keys
  audit tail [--limit N] [--json] show the newest security events
  client list|revoke|purge ...   list clients by origin with last use, revoke one, purge unused
  registration token create [--expires-in D] [--max-uses N]   initial access token for /register`

async function main (argv: string[]): Promise<void> {
  const [command, ...args] = argv
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return
  }
  const config = loadConfig()
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args, options: { workers: { type: 'string' } }, strict: true })
      let workers: number | undefined
      if (values.workers !== undefined) {
        workers = Number(values.workers)
        if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError('--workers must be an integer from 1 to 256')
      }
      const { serveWorkers } = await import('../cluster.js')
      const { startupFailure } = await import('../server.js')
      try {
        return await serveWorkers(config, workers ?? config.workers)
      } catch (err) {
        // Exit now: an open pool, embedded database or cluster IPC channel would keep a failed
        // start alive (a cluster worker that failed must die so the primary sees it).
        process.stderr.write(`stamp: ${startupFailure(err)}\n`)
        process.exit(1)
      }
    }
    case 'migrate': {
      const database = await openDatabase(config)
      try {
        const result = await migrate(database.url)
        print(args.includes('--json'), result, result.applied.length ? `applied: ${result.applied.join(', ')}` : 'no pending migrations')
      } finally {
        await database.close()
      }
      return
    }
    case 'user': return userCommand(args, config)
    case 'client': return clientCommand(args, config)
    case 'consent': return consentCommand(args, config)
    case 'keys': return keysCommand(args, config)
    case 'audit': return auditCommand(args, config)
    case 'registration': return registrationCommand(args, config)
    default: throw new UsageError(USAGE)
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  const known = err instanceof UsageError || err instanceof CommandError || err instanceof ConfigError || err.name === 'KeyLifecycleError' || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  process.stderr.write(`stamp: ${known ? err.message : `error: ${err.message}`}\n`)
  process.exitCode = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1
})
