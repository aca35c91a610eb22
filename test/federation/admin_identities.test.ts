/**
 * A user's linked upstream identities for administrators: the admin API (list; unlink by link
 * id or by provider id; another user's link untouched; audited) and the CLI (`stamp user
 * identities|unlink`, `stamp idp create --emails-endpoint`).
 */
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { build, createAdmin, createTestDatabase, createUser } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { stamp } from '../fixtures/process.js'

t.test('admin API: list and unlink a user\'s identities', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const call = (method: 'GET' | 'DELETE', url: string) => app.inject({ method, url, headers: { authorization: admin.authorization } })
  const corp = await app.identityProviders.create({ slug: 'corp', displayName: 'Corp', issuer: 'https://login.corp.example', clientId: 'stamp', clientSecret: 'secret-1' }, { actor: 'test' })
  const gh = await app.identityProviders.create({ slug: 'gh', kind: 'oauth2', clientId: 'gh', clientSecret: 'secret-2', authorizationEndpoint: 'https://gh.example/a', tokenEndpoint: 'https://gh.example/t', userinfoEndpoint: 'https://gh.example/u', emailsEndpoint: 'https://gh.example/u/emails' }, { actor: 'test' })
  const { user } = await createUser(app, 'vera')
  const other = await createUser(app, 'walt')
  const link = async (userId: string, providerId: string, subject: string) =>
    (await app.dbPool.query<{ id: string }>('INSERT INTO federated_identities (id, provider_id, subject, user_id, email) VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING id', [providerId, subject, userId, `${subject}@up.example`])).rows[0].id
  const corpLink = await link(user.id, corp.id, 'vera-corp')
  await link(user.id, gh.id, '4711')
  const waltLink = await link(other.user.id, corp.id, 'walt-corp')

  const list = await call('GET', `/admin/users/${user.id}/identities`)
  t.equal(list.statusCode, 200)
  t.equal(list.headers['cache-control'], 'no-store')
  t.match(list.json().items, [{ id: corpLink, provider: 'corp', provider_display_name: 'Corp', subject: 'vera-corp', email: 'vera-corp@up.example' }, { provider: 'gh', subject: '4711' }])
  t.equal((await call('GET', '/admin/users/00000000-0000-4000-8000-000000000000/identities')).statusCode, 404)

  // Another user's link id under this user: not found, and untouched.
  const wrong = await call('DELETE', `/admin/users/${user.id}/identities/${waltLink}`)
  t.equal(wrong.statusCode, 404)
  t.equal(wrong.json().error, 'invalid_request')
  t.equal((await app.federation.linksFor(other.user.id)).length, 1)
  t.equal((await call('DELETE', `/admin/users/${user.id}/identities/not-a-uuid`)).statusCode, 400)

  const byLink = await call('DELETE', `/admin/users/${user.id}/identities/${corpLink}`)
  t.equal(byLink.statusCode, 200)
  t.match(byLink.json(), { user_id: user.id, removed: [{ id: corpLink, provider: 'corp' }] })
  const byProvider = await call('DELETE', `/admin/users/${user.id}/identities/${gh.id}`)
  t.equal(byProvider.statusCode, 200)
  t.match(byProvider.json().removed, [{ provider: 'gh', subject: '4711' }])
  t.same((await call('GET', `/admin/users/${user.id}/identities`)).json().items, [])
  t.equal((await call('DELETE', `/admin/users/${user.id}/identities/${gh.id}`)).statusCode, 404, 'nothing left to unlink')

  const audit = await app.dbPool.query("SELECT actor, detail FROM audit_events WHERE type = 'federated_identity_unlinked' AND subject = $1 ORDER BY id", [user.id])
  t.equal(audit.rowCount, 2, 'one event per link')
  t.equal(audit.rows[0].actor, admin.user.id)
  t.match(audit.rows.map((r) => r.detail), [{ via: 'admin', provider: 'corp', link_id: corpLink }, { via: 'admin', provider: 'gh' }])

  t.equal((await app.inject({ method: 'GET', url: '/admin/identity-providers/gh', headers: { authorization: admin.authorization } })).json().emails_endpoint, 'https://gh.example/u/emails')
  const oidcWithEmails = await app.inject({ method: 'PATCH', url: '/admin/identity-providers/corp', headers: { authorization: admin.authorization }, payload: { emails_endpoint: 'https://x.example/emails' } })
  t.equal(oidcWithEmails.statusCode, 400, 'an emails endpoint only for plain OAuth 2')
})

t.test('CLI: stamp user identities / unlink, stamp idp --emails-endpoint', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-ids-cli-')), LOG_LEVEL: 'warn', ISSUER: 'https://id.example.com' }
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const created = await stamp(['idp', 'create', '--name', 'gh', '--kind', 'oauth2', '--client-id', 'gh', '--client-secret-stdin', '--authorization-endpoint', 'https://github.com/login/oauth/authorize',
    '--token-endpoint', 'https://github.com/login/oauth/access_token', '--userinfo-endpoint', 'https://api.github.com/user', '--emails-endpoint', 'https://api.github.com/user/emails', '--json'], env, 'gh-secret\n')
  t.equal(created.code, 0, created.stderr)
  t.equal(JSON.parse(created.stdout).emails_endpoint, 'https://api.github.com/user/emails')
  t.match((await stamp(['idp', 'show', 'gh'], env)).stdout, /emails endpoint\s+https:\/\/api\.github\.com\/user\/emails/)
  const user = await stamp(['user', 'create', '--username', 'xena', '--password', 'xena has a long passphrase', '--json'], env)
  t.equal(user.code, 0, user.stderr)
  const userId = JSON.parse(user.stdout).id
  await db.query("INSERT INTO federated_identities (id, provider_id, subject, user_id) VALUES (gen_random_uuid(), (SELECT id FROM identity_providers WHERE slug = 'gh'), '99', $1)", [userId])

  const listed = await stamp(['user', 'identities', 'xena', '--json'], env)
  t.equal(listed.code, 0, listed.stderr)
  t.match(JSON.parse(listed.stdout).items, [{ provider: 'gh', subject: '99' }])
  t.match((await stamp(['user', 'identities', 'xena'], env)).stdout, /gh\s+99/)
  const unlinked = await stamp(['user', 'unlink', 'xena', 'gh'], env)
  t.equal(unlinked.code, 0, unlinked.stderr)
  t.match(unlinked.stdout, /unlinked gh\s+99/)
  const again = await stamp(['user', 'unlink', 'xena', 'gh'], env)
  t.not(again.code, 0, 'nothing left')
  t.match(again.stderr, /no link gh/)
  t.match((await stamp(['user', 'identities', 'xena'], env)).stdout, /no linked identity providers/)
  const audit = await db.query("SELECT actor, detail FROM audit_events WHERE type = 'federated_identity_unlinked'")
  t.equal(audit.rows[0].actor, 'cli')
  t.equal(audit.rows[0].detail.via, 'admin')
})
