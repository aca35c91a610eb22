/**
 * CLI start-up timing: how long simple `stamp` commands take, wall clock, as a user runs them
 * (`node dist/cli/index.js …`, a new process each time) with `DATABASE_URL` set to a throw-away
 * PostgreSQL database. `npm run bench:cli`; prints the median and the range of BENCH_CLI_RUNS (7)
 * runs per command. Target: ≤ 1 s for simple commands. BENCH_CLI_BASELINE=path/to/other/cli/index.js
 * adds a column for another build (e.g. an older commit's), its runs interleaved with these so
 * the shared machine's noise hits both alike.
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
const BASELINE = process.env.BENCH_CLI_BASELINE

const name = `stamp_bench_cli_${randomBytes(4).toString('hex')}`
const admin = new pg.Client({ connectionString: ADMIN_URL })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
const url = new URL(ADMIN_URL)
url.pathname = `/${name}`
const env = { ...process.env, DATABASE_URL: url.href, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'), LOG_LEVEL: 'warn' }

let cli = CLI

/** CPU time (user + sys) of each run, from GNU time when present: on a busy machine wall time mostly measures the neighbours. */
const TIME = ['/usr/bin/time', '-f', '\nSTAMP_CPU %U %S']
const haveTime = spawnSync(TIME[0], [...TIME.slice(1), 'true']).status === 0
const cpu: number[] = []

function stamp (args: string[], input = ''): number {
  const started = performance.now()
  const command = haveTime ? [...TIME, process.execPath, cli, ...args] : [process.execPath, cli, ...args]
  const result = spawnSync(command[0], command.slice(1), { env, input, encoding: 'utf8' })
  const ms = performance.now() - started
  if (result.status !== 0) throw new Error(`stamp ${args.join(' ')} failed: ${result.stderr}`)
  const times = /STAMP_CPU ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr)
  if (times) cpu.push((Number(times[1]) + Number(times[2])) * 1000)
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
  console.log(`node ${process.version}, ${RUNS} runs each, DATABASE_URL set${BASELINE ? `; baseline ${BASELINE}` : ''}\n`)
  console.log(`command                      median ms   min–max ms   cpu ms${BASELINE ? '   baseline median   min–max   cpu ms' : ''}`)
  const summary = (times: number[]) => {
    times.sort((a, b) => a - b)
    return [times[Math.floor(times.length / 2)].toFixed(0).padStart(9), `${times[0].toFixed(0)}–${times.at(-1)!.toFixed(0)}`.padEnd(10)]
  }
  for (const [label, run] of commands) {
    const times: number[] = []
    const baseline: number[] = []
    const cpuTimes: number[] = []
    const baselineCPU: number[] = []
    const measure = (into: number[], cpuInto: number[]) => {
      cpu.length = 0
      into.push(run())
      if (cpu.length) cpuInto.push(cpu[0])
    }
    for (let i = 0; i < RUNS; i++) {
      cli = CLI
      measure(times, cpuTimes)
      if (BASELINE) {
        cli = BASELINE
        try { measure(baseline, baselineCPU) } catch { /* the baseline may lack the command (--version) */ }
      }
    }
    const [median, range] = summary(times)
    const cpuMedian = cpuTimes.length ? summary(cpuTimes)[0].trim().padStart(6) : '     —'
    const base = baseline.length ? summary(baseline) : BASELINE ? ['—'.padStart(9), ''.padEnd(10)] : []
    const baseCPU = baselineCPU.length ? summary(baselineCPU)[0].trim().padStart(6) : '     —'
    console.log(`${label.padEnd(28)} ${median}   ${range}   ${cpuMedian}${base.length ? `   ${base[0].padStart(15)}   ${base[1]}   ${baseCPU}` : ''}`)
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
