import t from 'tap'
import { mkdtempSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, ROOT, run, startServer } from './fixtures/process.js'

// The README's promise: on a fresh clone, `npm ci` then `npm start` serves, with no database set up.
t.test('a fresh clone installs with npm ci and starts with npm start', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'stamp-clone-')), 'stamp')
  const clone = await run('git', ['clone', '--quiet', '--depth', '1', `file://${ROOT}`, dir])
  t.equal(clone.code, 0, clone.stderr)
  const env: NodeJS.ProcessEnv = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true' }
  const install = await run('npm', ['ci'], { cwd: dir, env, timeoutMs: 240_000 })
  t.equal(install.code, 0, install.stderr.slice(-2000))
  t.ok(existsSync(join(dir, 'dist/server.js')), 'npm ci built the server')

  const port = await freePort()
  const serverEnv: NodeJS.ProcessEnv = { PORT: String(port) }
  delete process.env.DATABASE_URL
  const server = await startServer(['npm', 'start'], serverEnv, { cwd: dir, timeoutMs: 60_000 })
  t.teardown(() => server.stop('SIGKILL'))
  const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string }
  t.equal(discovery.issuer, `http://localhost:${port}`)
  const jwks = await (await fetch(`http://127.0.0.1:${port}/jwks`)).json() as { keys: unknown[] }
  t.equal(jwks.keys.length, 2)
  t.ok(existsSync(join(dir, 'data')), 'embedded database in ./data')
  t.ok(existsSync(join(dir, 'keys/kek')), 'key-encryption key generated in ./keys')
})
