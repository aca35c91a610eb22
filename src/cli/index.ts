#!/usr/bin/env node
/**
 * The `stamp` command. Same environment variables as the server; `--json` prints one JSON
 * object on stdout; errors go to stderr with exit code 1 (2 for usage errors).
 *
 * @module
 */
import { ConfigError, loadConfig } from '../config/env.js'
import { migrate } from '../db/migrate.js'
import { openDatabase } from '../db/connection.js'
import { clientCommand } from './client.js'
import { consentCommand } from './consent.js'
import { keysCommand } from './keys.js'
import { print, UsageError } from './output.js'
import { userCommand } from './user.js'

const USAGE = `usage: stamp <command>

  serve                          start the server (same as npm start)
  migrate [--json]               apply pending database migrations
  user create ...                create a user
  client create ...              register a client
  consent revoke --user U --client C   forget a user's consent for a client
  keys list|rotate|revoke|rewrap manage signing keys`

async function main (argv: string[]): Promise<void> {
  const [command, ...args] = argv
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return
  }
  const config = loadConfig()
  switch (command) {
    case 'serve': {
      const { serve } = await import('../server.js')
      return serve(config)
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
    default: throw new UsageError(USAGE)
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  const known = err instanceof UsageError || err instanceof ConfigError || err.name === 'KeyLifecycleError' || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  process.stderr.write(`stamp: ${known ? err.message : `error: ${err.message}`}\n`)
  process.exitCode = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1
})
