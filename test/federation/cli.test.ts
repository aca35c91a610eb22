/**
 * `stamp idp`: create with the secret on stdin (never an argument), a private key file, plain
 * OAuth 2 with a claim mapping; list, show, update, delete; the secret sealed in the database and
 * absent from every output; audit events with actor "cli".
 */
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { stamp } from '../fixtures/process.js'

const url = await createTestDatabase(t)
const dir = mkdtempSync(join(tmpdir(), 'stamp-idp-cli-'))
const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: dir, LOG_LEVEL: 'warn', ISSUER: 'https://id.example.com' }
const SECRET = 'the-upstream-client-secret-4711'
const db = new pg.Client({ connectionString: url })
await db.connect()
t.teardown(() => db.end())

t.test('create with --client-secret-stdin, show, list, update, delete', async (t) => {
  const created = await stamp(['idp', 'create', '--name', 'corp', '--display-name', 'Corp SSO', '--issuer', 'https://login.corp.example', '--client-id', 'stamp',
    '--client-secret-stdin', '--jit', '--domain', 'corp.example', '--domain', 'corp.example.org', '--claim-mapping', 'username=upn', '--json'], env, SECRET + '\n')
  t.equal(created.code, 0, created.stderr)
  const view = JSON.parse(created.stdout)
  t.match(view, { slug: 'corp', display_name: 'Corp SSO', kind: 'oidc', jit: true, domains: ['corp.example', 'corp.example.org'], claim_mapping: { username: 'upn' }, credential_set: true, redirect_uri: 'https://id.example.com/federation/callback' })
  t.notOk(created.stdout.includes(SECRET) || created.stderr.includes(SECRET), 'the secret is not printed')
  const { rows } = await db.query('SELECT credential_enc FROM identity_providers WHERE slug = $1', ['corp'])
  t.match(rows[0].credential_enc, /^v1\./, 'sealed')
  t.notOk(rows[0].credential_enc.includes(SECRET))

  const shown = await stamp(['idp', 'show', 'corp'], env)
  t.equal(shown.code, 0, shown.stderr)
  t.match(shown.stdout, /credential\s+set \(sealed\)/)
  t.notOk(shown.stdout.includes(SECRET))

  const list = await stamp(['idp', 'list'], env)
  t.match(list.stdout, /corp\s+oidc\s+https:\/\/login\.corp\.example/)

  const updated = await stamp(['idp', 'update', 'corp', '--no-jit', '--disabled', '--json'], env)
  t.equal(updated.code, 0, updated.stderr)
  t.match(JSON.parse(updated.stdout), { jit: false, enabled: false, credential_set: true })

  const dup = await stamp(['idp', 'create', '--name', 'corp', '--issuer', 'https://x.example', '--client-id', 'a', '--client-secret-stdin'], env, 'x\n')
  t.equal(dup.code, 1)
  t.match(dup.stderr, /already exists/)

  const deleted = await stamp(['idp', 'delete', 'corp', '--json'], env)
  t.equal(deleted.code, 0, deleted.stderr)
  t.equal(JSON.parse(deleted.stdout).links_removed, 0)
  const audit = await db.query("SELECT type, actor FROM audit_events WHERE type LIKE 'identity_provider_%' ORDER BY id")
  t.strictSame(audit.rows, [
    { type: 'identity_provider_created', actor: 'cli' },
    { type: 'identity_provider_updated', actor: 'cli' },
    { type: 'identity_provider_deleted', actor: 'cli' },
  ])
})

t.test('private key file (private_key_jwt) and plain OAuth 2 with a claim mapping', async (t) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const file = join(dir, 'upstream.pem')
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }))
  const pk = await stamp(['idp', 'create', '--name', 'entra', '--issuer', 'https://login.microsoftonline.com/t/v2.0', '--client-id', 'app', '--private-key-file', file, '--json'], env)
  t.equal(pk.code, 0, pk.stderr)
  const view = JSON.parse(pk.stdout)
  t.equal(view.auth_method, 'private_key_jwt')
  t.match(view.public_jwk, { kty: 'RSA', alg: 'RS256', use: 'sig' })
  t.notOk('d' in view.public_jwk)

  const gh = await stamp(['idp', 'create', '--name', 'github', '--kind', 'oauth2', '--client-id', 'gh', '--client-secret-stdin',
    '--authorization-endpoint', 'https://github.com/login/oauth/authorize', '--token-endpoint', 'https://github.com/login/oauth/access_token',
    '--userinfo-endpoint', 'https://api.github.com/user', '--scope', 'read:user user:email', '--claim-mapping', 'sub=id,username=login', '--json'], env, 'gh-secret\n')
  t.equal(gh.code, 0, gh.stderr)
  t.match(JSON.parse(gh.stdout), { kind: 'oauth2', claim_mapping: { sub: 'id', username: 'login' } })

  const bad = await stamp(['idp', 'create', '--name', 'bad', '--issuer', 'https://x.example', '--client-id', 'a', '--claim-mapping', 'color=blue'], env)
  t.equal(bad.code, 2)
  t.match(bad.stderr, /unknown field "color"/)
})
