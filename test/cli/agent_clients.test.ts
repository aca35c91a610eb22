import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { build, createTestDatabase, testConfig } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { stamp } from '../fixtures/process.js'
import { parseDuration } from '../../src/cli/registration.js'

const url = await createTestDatabase(t)
const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-cli-')), LOG_LEVEL: 'warn' }
const app = await build(t, { databaseUrl: url, config: testConfig(url, { KEY_ENCRYPTION_KEY: env.KEY_ENCRYPTION_KEY }) })
const CB = 'https://agent.example/cb'
const register = (token: string) => app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, payload: JSON.stringify({ client_name: 'CLI agent', redirect_uris: [CB], token_endpoint_auth_method: 'none' }) })

t.test('registration token create: shown once, stored hashed, limits enforced by /register', async (t) => {
  const res = await stamp(['registration', 'token', 'create', '--expires-in', '1h', '--max-uses', '1', '--json'], env)
  t.equal(res.code, 0, res.stderr)
  const out = JSON.parse(res.stdout)
  t.match(out.token, /^[A-Za-z0-9_-]{43}$/)
  t.equal(out.max_uses, 1)
  t.ok(Math.abs(new Date(out.expires_at).getTime() - Date.now() - 3_600_000) < 60_000)
  const row = await app.prisma.registrationToken.findUnique({ where: { id: out.id } })
  t.equal(row?.tokenHash, createHash('sha256').update(out.token).digest('hex'))
  t.equal((await register(out.token)).statusCode, 201)
  t.equal((await register(out.token)).statusCode, 401, 'used up')
  const bad = await stamp(['registration', 'token', 'create', '--expires-in', 'soon'], env)
  t.equal(bad.code, 2)
  t.equal(parseDuration('7d'), 604_800)
  t.equal(parseDuration('90'), 90)
})

t.test('client list --origin, revoke, purge --unused-days', async (t) => {
  const token = JSON.parse((await stamp(['registration', 'token', 'create', '--json'], env)).stdout).token
  const a = (await register(token)).json().client_id
  const b = (await register(token)).json().client_id
  const list = await stamp(['client', 'list', '--origin', 'dcr', '--json'], env)
  t.equal(list.code, 0, list.stderr)
  const ids = JSON.parse(list.stdout).clients.map((c: { client_id: string }) => c.client_id)
  t.ok(ids.includes(a) && ids.includes(b))
  t.ok(JSON.parse(list.stdout).clients.every((c: { origin: string }) => c.origin === 'dcr'))
  const text = await stamp(['client', 'list'], env)
  t.match(text.stdout, /last_used_at/)

  const revoke = await stamp(['client', 'revoke', a, '--json'], env)
  t.equal(revoke.code, 0, revoke.stderr)
  t.ok((await app.clientStore.find(a))?.revokedAt)
  t.equal((await stamp(['client', 'revoke', 'nope'], env)).code, 1)

  const old = new Date(Date.now() - 10 * 86_400_000)
  await app.prisma.client.update({ where: { id: b }, data: { createdAt: old } })
  const purge = await stamp(['client', 'purge', '--unused-days', '7', '--json'], env)
  t.equal(purge.code, 0, purge.stderr)
  t.ok(JSON.parse(purge.stdout).purged.includes(b))
  t.equal(await app.clientStore.find(b), null)
  t.equal((await stamp(['client', 'purge', '--unused-days', '7', '--origin', 'admin'], env)).code, 2, 'admin clients are never purged')
  t.equal((await stamp(['client', 'purge'], env)).code, 2)
})
