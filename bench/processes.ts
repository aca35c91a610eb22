/**
 * Child processes of the bench: the real Stamp server (`node dist/server.js`), the bare Fastify
 * ceiling, and the one-shot ceiling scripts. Each runs in its own process so that none shares an
 * event loop with the load generator.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sleep } from './stats.js'

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const ROOT = resolve(BENCH_DIR, '..')

/** Runs a TypeScript file of bench/ under tsx's loader. */
function spawnTS (file: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, file), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
}

/** Runs a one-shot ceiling script and returns the JSON it prints last. */
export async function runCeiling<T> (file: string, args: Array<string | number>): Promise<T> {
  const child = spawnTS(file, args.map(String))
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const [code] = await once(child, 'close') as [number | null]
  if (code !== 0) throw new Error(`${file} exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1)!) as T
}

export interface Running { url: string, child: ChildProcess, stop(): Promise<void> }

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts the real server and waits until it answers `GET /jwks`. */
export async function startServer (env: Record<string, string>): Promise<Running> {
  // BENCH_SERVER_FLAGS: extra node flags for the server only (e.g. --cpu-prof when profiling).
  const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...flags, 'dist/server.js'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] })
  const url = `http://${env.HOST}:${env.PORT}`
  const running = { url, child, stop: () => stopChild(child) }
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`stamp server exited early with ${code}`) })
  exited.catch(() => {})
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const up = await Promise.race([fetch(`${url}/jwks`).then((r) => r.ok, () => false), exited])
    if (up) return running
    await sleep(100)
  }
  await running.stop()
  throw new Error('stamp server did not become ready within 30 s')
}

/** Starts the bare Fastify ceiling and waits for the port it prints. */
export async function startBareFastify (): Promise<Running> {
  return startPortPrinter('ceilings/bare_fastify.ts', [])
}

/** Starts a bench/ script that listens on loopback and prints `{"port":N}`; waits for it. */
export async function startPortPrinter (file: string, args: string[]): Promise<Running> {
  const child = spawnTS(file, args)
  const [chunk] = await once(child.stdout!, 'data') as [Buffer]
  const { port } = JSON.parse(chunk.toString()) as { port: number }
  return { url: `http://127.0.0.1:${port}`, child, stop: () => stopChild(child) }
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
