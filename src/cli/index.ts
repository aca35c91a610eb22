#!/usr/bin/env node
/**
 * The `stamp` command. Same environment variables as the server; `--json` prints one JSON
 * object on stdout; errors go to stderr with exit code 1 (2 for usage errors).
 *
 * @module
 */
import module from 'node:module'
import { parseArgs } from 'node:util'
import { CommandError, print, UsageError } from './output.js'
import { stampVersion } from './version.js'

// A CLI process starts for every command; most of a simple command's time is loading modules.
// Node ≥ 22.1 keeps their compiled code on disk (in the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1
// turns it off), and each command's modules (Prisma, pg, argon2, jose, env-schema) load only when
// that command runs: `stamp --version` or `--help` answers without any of them.
module.enableCompileCache?.()
const USAGE = `usage: stamp <command>

  init [--username U] [--password-stdin] [--json]
                                 create the first administrator (idempotent) and say what next
  serve [--workers N]            start the server; N worker processes share the port
                                 (default: WORKERS, else one per CPU; 1 without DATABASE_URL)
  migrate [--json]               apply pending database migrations
  user create ...                create a user
  user factors|reset-factors USER          list / remove a user's second factors
  user require-mfa USER [--off]  require a second factor at sign-in (or not)
  user invite --email E [--scope "a b"] [--locale de]   mail a sign-up invitation (SIGNUP=invite)
  user reset-email --username U [--locale de]           mail a user a password reset link
  client create ...              register a client
  client update ID --[no-]require-pkce   require PKCE at /authorize (or not)
  client update ID --[no-]require-mfa    require a second factor from its users (or not)
  client disable|enable ID       refuse a client everywhere (revokes its refresh tokens) / allow it again
  consent revoke --user U --client C   forget a user's consent for a client
  keys list|rotate|revoke|rewrap manage signing keys
  audit tail [--limit N] [--json] show the newest security events
  client list|revoke|purge ...   list clients by origin with last use, revoke one, purge unused
  registration token create [--expires-in D] [--max-uses N]   initial access token for /register
  idp create|list|show|update|delete ...   upstream identity providers ("Continue with …", docs/federation.md)

  purge [--json]                 run one retention pass now; prints rows removed per table
  --version                      print the version`

async function main (argv: string[]): Promise<void> {
  const [command, ...args] = argv
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return
  }
  if (command === '--version' || command === 'version') {
    const version = stampVersion()
    print(args.includes('--json'), { version, node: process.versions.node }, `stamp ${version}`)
    return
  }
  const { loadConfig } = await import('../config/env.js')
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
      const [{ openDatabase }, { migrate }] = await Promise.all([import('../db/connection.js'), import('../db/migrate.js')])
      const database = await openDatabase(config, { beside: true })
      try {
        const result = await migrate(database.url)
        print(args.includes('--json'), result, result.applied.length ? `applied: ${result.applied.join(', ')}` : 'no pending migrations')
      } finally {
        await database.close()
      }
      return
    }
    case 'init': return (await import('./init.js')).initCommand(args, config)
    case 'user': return (await import('./user.js')).userCommand(args, config)
    case 'client': return (await import('./client.js')).clientCommand(args, config)
    case 'consent': return (await import('./consent.js')).consentCommand(args, config)
    case 'keys': return (await import('./keys.js')).keysCommand(args, config)
    case 'audit': return (await import('./audit.js')).auditCommand(args, config)
    case 'purge': return (await import('./purge.js')).purgeCommand(args, config)
    case 'registration': return (await import('./registration.js')).registrationCommand(args, config)
    case 'idp': return (await import('./idp.js')).idpCommand(args, config)
    default: throw new UsageError(USAGE)
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  const known = err instanceof UsageError || err instanceof CommandError || err.name === 'ConfigError' || err.name === 'KeyLifecycleError' || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  process.stderr.write(`stamp: ${known ? err.message : `error: ${err.message}`}\n`)
  process.exitCode = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1
})
