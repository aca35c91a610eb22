import t from 'tap'
import { mkdtempSync, existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, ROOT, run, startServer } from './fixtures/process.js'

/**
 * The README's quick start, as written: its first block (`npm ci`, `npm start`) and then, while
 * the server runs, its second block in bash. Only the port differs (a free one instead of 4000,
 * which another process may hold), and `npm start` runs in the background.
 */
function quickStart (): { setup: string[], script: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1))
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1])
  if (blocks.length !== 2) throw new Error(`expected two sh blocks in the quick start, found ${blocks.length}`)
  const setup = blocks[0].split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean)
  return { setup, script: blocks[1] }
}

// The README's promise: on a fresh clone, `npm ci` then `npm start` serves, with no database set
// up, and the CLI steps beside it work.
t.test('a fresh clone: the README quick start works as written', async (t) => {
  const { setup, script } = quickStart()
  t.same(setup, ['npm ci', 'npm start'], 'the quick start starts with npm ci, then npm start')
  const dir = join(mkdtempSync(join(tmpdir(), 'stamp-clone-')), 'stamp')
  const clone = await run('git', ['clone', '--quiet', '--depth', '1', `file://${ROOT}`, dir])
  t.equal(clone.code, 0, clone.stderr)
  const env: NodeJS.ProcessEnv = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true' }
  const install = await run('npm', ['ci'], { cwd: dir, env, timeoutMs: 240_000 })
  t.equal(install.code, 0, install.stderr.slice(-2000))
  t.ok(existsSync(join(dir, 'dist/server.js')), 'npm ci built the server')
  t.ok(existsSync(join(dir, 'packages/verifier/dist/index.js')), 'npm ci built the stamp-verifier workspace package')
  t.ok(existsSync(join(dir, 'dist/console/index.html')), 'npm ci built the admin console')

  const port = await freePort()
  delete process.env.DATABASE_URL
  const server = await startServer(['npm', 'start'], { PORT: String(port) }, { cwd: dir, timeoutMs: 60_000 })
  t.teardown(() => server.stop('SIGKILL'))
  const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string }
  t.equal(discovery.issuer, `http://localhost:${port}`)
  const jwks = await (await fetch(`http://127.0.0.1:${port}/jwks`)).json() as { keys: unknown[] }
  t.equal(jwks.keys.length, 2)
  const console = await fetch(`http://127.0.0.1:${port}/console/`)
  t.equal(console.status, 200, 'the admin console is served')
  t.match(console.headers.get('content-security-policy'), "script-src 'self'")
  t.ok(existsSync(join(dir, 'data')), 'embedded database in ./data')
  t.ok(existsSync(join(dir, 'keys/kek')), 'key-encryption key generated in ./keys')

  // The second block, while the server runs; stdout holds the CLI's and curl's output.
  const steps = await run('bash', ['-euo', 'pipefail', '-c', script.replaceAll('localhost:4000', `localhost:${port}`)], { cwd: dir, env: { PORT: String(port) }, timeoutMs: 120_000 })
  t.equal(steps.code, 0, `the quick start's CLI steps: ${steps.stderr.slice(-2000)}`)
  t.match(steps.stdout, /administrator: admin \(created\)/, 'stamp init created the administrator')
  t.match(steps.stdout, /client_secret: [A-Za-z0-9_-]{43}/, 'and showed the stamp-admin secret once')
  // curl prints no newline after a body; token responses are flat JSON objects.
  const tokens = [...steps.stdout.matchAll(/\{"access_token":[^{}]*\}/g)].map((m) => JSON.parse(m[0]) as { token_type: string, refresh_token?: string })
  t.equal(tokens.length, 2, 'client_credentials and refresh_token responses printed (the password grant\'s is captured)')
  t.ok(tokens.every((tok) => tok.token_type === 'Bearer'))
  t.ok(tokens[1].refresh_token, 'the refresh grant returned a new refresh token')

  const again = await run('npx', ['stamp', 'init', '--username', 'admin', '--json'], { cwd: dir, env: { PORT: String(port) } })
  t.equal(again.code, 0, again.stderr)
  t.match(JSON.parse(again.stdout), { user: { created: false }, client: { created: false } }, 'stamp init is idempotent')
})
