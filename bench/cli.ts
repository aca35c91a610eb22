/**
 * CLI start-up timing: how long simple `stamp` commands take, wall clock, as a user runs them
 * (`node dist/cli/index.js …`, a new process each time) with `DATABASE_URL` set to a throw-away
 * PostgreSQL database. `npm run bench:cli`; prints the median and the range of BENCH_CLI_RUNS (7)
 * runs per command. Target: ≤ 1 s for simple commands.
 *
 * @module
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'
import { ROOT } from './processes.js'

const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 7)
const CLI = join(ROOT, 'dist/cli/index.js')

const name = `stamp_bench_cli_${randomBytes(4).toString('hex')}`
const admin = new pg.Client({ connectionString: ADMIN_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
const url = new URL(ADMIN_URL)
url.pathname = `/${name}`
const env = { ...process.env, DATABASE_URL: url.href, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'), LOG_LEVEL: 'warn' }

function stamp (args: string[], input = ''): number {
  const started = performance.now()
  const result = spawnSync(process.execPath, [CLI, ...args], { env, input, encoding: 'utf8' })
  const ms = performance.now() - started
  if (result.status !== 0) throw new Error(`stamp ${args.join(' ')} failed: ${result.stderr}`)
  return ms
}

try {
  stamp(['migrate']) // the first run creates the schema; not what is measured
  stamp(['keys', 'list'])
  let n = 0
  const commands: Array<[string, () => number]> = [
    ['--version', () => stamp(['--version'])],
    ['--help', () => stamp(['--help'])],
    ['migrate (nothing pending)', () => stamp(['migrate'])],
    ['keys list', () => stamp(['keys', 'list', '--json'])],
    ['client create', () => stamp(['client', 'create', '--name', `bench-${n++}`, '--grant', 'client_credentials', '--scope', 'a', '--json'])],
    ['user create (argon2 hash)', () => stamp(['user', 'create', '--username', `bench-${n++}`, '--password-stdin', '--json'], 'a long bench passphrase')],
    ['audit tail', () => stamp(['audit', 'tail', '--limit', '5', '--json'])],
  ]
  console.log(`node ${process.version}, ${RUNS} runs each, DATABASE_URL set\n`)
  console.log('command                      median ms   min–max ms')
  for (const [label, run] of commands) {
    const times = Array.from({ length: RUNS }, run).sort((a, b) => a - b)
    const median = times[Math.floor(times.length / 2)]
    console.log(`${label.padEnd(28)} ${median.toFixed(0).padStart(9)}   ${times[0].toFixed(0)}–${times.at(-1)!.toFixed(0)}`)
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
