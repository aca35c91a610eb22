import t from 'tap'
import { spawn } from 'node:child_process'
import { CLI, ROOT } from '../fixtures/deploy.js'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Runs a command with env and returns its exit code, output and how long it took. */
function runFor (args: string[], env: Record<string, string>): Promise<{ code: number | null, output: string, ms: number }> {
  const started = Date.now()
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer)
    resolve({ code, output, ms: Date.now() - started })
  }))
}

// "Fast" means no waiting (no database connection attempt, no retry loop): the time to load the
// server's modules, measured just before each run so that a busy machine slows both alike.
const LOAD_ONLY = ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(join(ROOT, 'dist/app.js')).href)})`]

t.test('a bad configuration fails fast with a message naming the variable', async (t) => {
  for (const [name, value] of [['PORT', 'abc'], ['TRUST_PROXY', '10.0.0.0/99'], ['SHUTDOWN_TIMEOUT', '-1'], ['DATABASE_URL', 'mysql://x']]) {
    for (const entry of [[CLI, 'serve'], [join(ROOT, 'dist/server.js')]]) {
      const load = await runFor(LOAD_ONLY, {})
      t.equal(load.code, 0, load.output)
      const { code, output, ms } = await runFor(entry, { [name]: value })
      t.not(code, 0, `${name}=${value}: non-zero exit (${entry.join(' ')})`)
      t.match(output, name, `${name}=${value}: the message names ${name}`)
      t.notMatch(output, /at .*\.js:\d+/, 'no stack trace')
      t.ok(ms < 2 * load.ms + 3_000, `exited in ${ms} ms (loading the modules took ${load.ms} ms)`)
    }
  }
})

t.test('a bad --workers value is a usage error', async (t) => {
  const { code, output } = await runFor([CLI, 'serve', '--workers', '0'], {})
  t.equal(code, 2)
  t.match(output, /--workers must be an integer/)
})
