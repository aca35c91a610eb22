/**
 * client_credentials throughput of `stamp serve --workers 1` against `--workers 2` on loopback:
 * real processes on a throw-away PostgreSQL database, autocannon for a bounded time each.
 *
 * `npx tsx bench/workers.ts` prints the result as JSON; `bench/index.ts` calls `benchWorkers()`.
 * Needs a built dist/ (npm ci builds it) and PostgreSQL (BENCH_DATABASE_URL, default the local
 * postgres superuser on 127.0.0.1:5432; a database is created and dropped).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'dist/cli/index.js')

export interface WorkersBenchOptions {
  /** Seconds of load per configuration (default 5). */
  duration?: number
  /** Concurrent keep-alive connections (default 32; the cluster balances connections). */
  connections?: number
  /** PostgreSQL server URL to create the throw-away database on. */
  databaseUrl?: string
}

export interface WorkersBenchResult {
  /** Requests per second (2xx only), one worker process. */
  workers1: number
  /** Requests per second (2xx only), two worker processes. */
  workers2: number
  /** workers2 / workers1. */
  speedup: number
  /** Non-2xx responses and errors over both runs (should be 0). */
  errors: number
  cpus: number
  duration: number
  connections: number
}

export async function benchWorkers (options: WorkersBenchOptions = {}): Promise<WorkersBenchResult> {
  const duration = options.duration ?? 5
  const connections = options.connections ?? 32
  const adminUrl = options.databaseUrl ?? process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
  const name = `stamp_bench_${randomBytes(6).toString('hex')}`
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`)
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      RATE_LIMIT_ENABLED: 'false',
      DATABASE_URL: adminUrl.replace(/\/[^/?]*(\?|$)/, `/${name}$1`),
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
    }
    const client = JSON.parse(await runCLI(env, ['client', 'create', '--name', 'bench', '--grant', 'client_credentials', '--scope', 'read', '--json']))
    const authorization = 'Basic ' + Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')
    const one = await measure(env, 1, authorization, duration, connections)
    const two = await measure(env, 2, authorization, duration, connections)
    return {
      workers1: one.rps,
      workers2: two.rps,
      speedup: Math.round((two.rps / one.rps) * 100) / 100,
      errors: one.errors + two.errors,
      cpus: availableParallelism(),
      duration,
      connections,
    }
  } finally {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}

async function measure (env: Record<string, string>, workers: number, authorization: string, duration: number, connections: number) {
  // Logs at warn, as a busy production instance might run; readiness is polled instead of read
  // from the log: every worker must have answered /readyz (they tag responses with their id).
  const port = await freePort()
  const server = spawn(process.execPath, [CLI, 'serve', '--workers', String(workers)], { env: { ...env, PORT: String(port), INSTANCE_NAME: 'bench' }, stdio: ['ignore', 'ignore', 'inherit'] })
  try {
    await allWorkersReady(server, port, workers)
    const body = 'grant_type=client_credentials&scope=read'
    const headers = { authorization, 'content-type': 'application/x-www-form-urlencoded' }
    // Warm-up: JIT, the client cache and the connection pools of every worker.
    await autocannon({ url: `http://127.0.0.1:${port}/token`, method: 'POST', headers, body, connections, duration: 1 })
    const result = await autocannon({ url: `http://127.0.0.1:${port}/token`, method: 'POST', headers, body, connections, duration })
    return { rps: Math.round(result['2xx'] / duration), errors: result.non2xx + result.errors + result.timeouts }
  } finally {
    await stop(server)
  }
}

async function allWorkersReady (server: ChildProcess, port: number, workers: number): Promise<void> {
  const seen = new Set<string>()
  const deadline = Date.now() + 60_000
  while (seen.size < workers) {
    if (server.exitCode !== null) throw new Error(`stamp exited with ${server.exitCode} before it was ready`)
    if (Date.now() > deadline) throw new Error('stamp did not start within 60 s')
    try {
      // A fresh connection each time: the cluster hands connections to workers in turn.
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { headers: { connection: 'close' } })
      if (res.ok) seen.add(res.headers.get('x-stamp-instance') ?? '')
      await res.arrayBuffer()
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}

async function stop (server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGTERM')
  const timer = setTimeout(() => server.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

function runCLI (env: Record<string, string>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (code) => code === 0 ? resolve(out) : reject(new Error(`stamp ${args.join(' ')}: ${err}`)))
  })
}

async function adminQuery (url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try { await client.query(sql) } finally { await client.end() }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchWorkers(), null, 2))
}
