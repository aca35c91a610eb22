/**
 * `stamp init`: the first administrator in one command (docs/admin.md's four steps), idempotent,
 * and what it prints works: its client and user get an admin token from the running server.
 * Also `stamp --version`.
 *
 * @module
 */
import t from 'tap'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { freePort, ROOT, SERVER, stamp, startServer } from '../fixtures/process.js'

const PASSWORD = 'a long admin passphrase'

t.test('stamp init creates the first administrator, once', async (t) => {
  const url = await createTestDatabase(t)
  const port = await freePort()
  const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-init-')), LOG_LEVEL: 'warn', PORT: String(port) }

  const first = await stamp(['init', '--username', 'root', '--password-stdin', '--json'], env, PASSWORD + '\n')
  t.equal(first.code, 0, first.stderr)
  const out = JSON.parse(first.stdout)
  t.equal(out.issuer, `http://localhost:${port}`)
  t.match(out.user, { username: 'root', created: true, scopes: ['stamp:admin'] })
  t.match(out.client, { client_id: 'stamp-admin', created: true, scope: 'stamp:admin' })
  t.match(out.client.client_secret, /^[A-Za-z0-9_-]{43}$/)
  t.ok(Array.isArray(out.next) && out.next.length >= 2, 'says what to do next')
  t.notMatch(first.stdout + first.stderr, PASSWORD, 'the password is never printed')

  t.test('again: nothing new, no secret, exit 0', async (t) => {
    const again = await stamp(['init', '--username', 'root', '--json'], env)
    t.equal(again.code, 0, again.stderr)
    const out2 = JSON.parse(again.stdout)
    t.match(out2.user, { username: 'root', created: false })
    t.match(out2.client, { client_id: 'stamp-admin', created: false })
    t.notOk(out2.client.client_secret, 'an existing secret is never shown again')
    const text = await stamp(['init', '--username', 'root'], env)
    t.equal(text.code, 0, text.stderr)
    t.match(text.stdout, /already/)
    t.match(text.stdout, /Next/)
  })

  t.test('refusals', async (t) => {
    const weak = await stamp(['init', '--username', 'other', '--password-stdin'], env, 'password')
    t.equal(weak.code, 2, 'the password policy applies')
    t.match(weak.stderr, /^stamp: /)
    const noPassword = await stamp(['init', '--username', 'someone'], env)
    t.equal(noPassword.code, 2, 'without a terminal, a new user needs --password-stdin')
    t.match(noPassword.stderr, /--password-stdin/)
    const plain = await stamp(['user', 'create', '--username', 'plain', '--password', 'long enough password'], env)
    t.equal(plain.code, 0, plain.stderr)
    const notAdmin = await stamp(['init', '--username', 'plain'], env)
    t.equal(notAdmin.code, 1, 'an existing non-admin user is not silently promoted')
    t.match(notAdmin.stderr, /not an administrator/)
  })

  t.test('what it printed works: an admin token from the running server, then the admin API', async (t) => {
    const server = await startServer([process.execPath, SERVER], { ...env, LOG_LEVEL: 'info' })
    t.teardown(() => server.stop('SIGKILL'))
    const base = `http://127.0.0.1:${port}`
    const res = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`stamp-admin:${out.client.client_secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'root', password: PASSWORD, scope: 'stamp:admin' }),
    })
    t.equal(res.status, 200)
    const { access_token: token } = await res.json() as { access_token: string }
    const clients = await fetch(`${base}/admin/clients`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(clients.status, 200)
    const body = await clients.json() as { clients?: Array<{ client_id: string }>, items?: Array<{ client_id: string }> }
    t.match(JSON.stringify(body), /"stamp-admin"/)
  })
})

t.test('stamp --version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  t.match(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'a semantic version')
  const text = await stamp(['--version'], {})
  t.equal(text.code, 0, text.stderr)
  t.equal(text.stdout, `stamp ${version}\n`)
  const json = await stamp(['--version', '--json'], {})
  t.same(JSON.parse(json.stdout), { version, node: process.versions.node })
  const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')
  t.match(changelog, new RegExp(`^## ${version.replace(/\./g, '\\.')} `, 'm'), 'CHANGELOG.md has an entry for this version')
})
