import t from 'tap'
import { clientCommand } from '../../src/cli/client.js'
import { consentCommand } from '../../src/cli/consent.js'
import { createTestDatabase, testConfig } from '../helper.js'
import { createPool, createPrisma } from '../../src/db/connection.js'
import { prismaUserStore } from '../../src/storage/prisma/users.js'
import { USERNAME_FORMS } from '../../src/domain/usernames.js'
import { prismaConsentStore } from '../../src/storage/prisma/consents.js'
import { prismaAuditStore } from '../../src/storage/prisma/audit.js'

const url = await createTestDatabase(t)
const config = testConfig(url)

/** Runs a CLI command and returns what it printed on stdout. */
async function run (command: (args: string[], c: typeof config) => Promise<void>, args: string[]): Promise<string> {
  const write = process.stdout.write
  let out = ''
  process.stdout.write = ((chunk: string) => { out += chunk; return true }) as typeof process.stdout.write
  try {
    await command(args, config)
  } finally {
    process.stdout.write = write
  }
  return out
}

t.test('client create --grant authorization_code', async (t) => {
  await t.rejects(run(clientCommand, ['create', '--name', 'Web', '--grant', 'authorization_code']), /requires at least one --redirect-uri/)
  await t.rejects(run(clientCommand, ['create', '--name', 'Web', '--grant', 'implicit', '--redirect-uri', 'https://a/cb']), /unknown grant implicit/)
  const out = JSON.parse(await run(clientCommand, ['create', '--name', 'Web', '--grant', 'authorization_code', '--redirect-uri', 'https://web.example/cb',
    '--post-logout-redirect-uri', 'https://web.example/', '--backchannel-logout-uri', 'https://web.example/bcl', '--json']))
  t.ok(out.client_secret)
  t.same(out.grant_types.sort(), ['authorization_code', 'refresh_token'])
  t.equal(out.scope, 'openid profile email offline_access', 'OIDC scopes by default')
  const spa = await run(clientCommand, ['create', '--name', 'SPA', '--public', '--grant', 'authorization_code', '--redirect-uri', 'https://spa.example/cb'])
  t.match(spa, /must send a PKCE code_challenge/)
})

t.test('consent revoke', async (t) => {
  const pool = createPool({ url, poolMax: 1 })
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const user = await prismaUserStore(prisma, pool, USERNAME_FORMS).create({ username: 'heidi', email: null, passwordHash: 'x', scopes: [] })
  await prismaConsentStore(prisma).grant(user.id, 'some-client', ['openid'])
  const out = JSON.parse(await run(consentCommand, ['revoke', '--user', 'heidi', '--client', 'some-client', '--json']))
  t.equal(out.revoked, true)
  t.same(await prismaConsentStore(prisma).granted(user.id, 'some-client'), [])
  const [audited] = await prismaAuditStore(prisma, pool).list({ limit: 5, type: 'consent_revoked' })
  t.match(audited, { actor: 'cli', subject: user.id, clientId: 'some-client' }, 'the revocation is audited')
  const again = await run(consentCommand, ['revoke', '--user', user.id, '--client', 'some-client'])
  t.match(again, /had no consent/)
  await t.rejects(run(consentCommand, ['revoke', '--user', 'nobody', '--client', 'x']), /no user nobody/)
})

t.test('client disable / enable', async (t) => {
  const pool = createPool({ url, poolMax: 1 })
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const created = JSON.parse(await run(clientCommand, ['create', '--name', 'Svc', '--grant', 'password', '--first-party', '--json']))
  const user = await prismaUserStore(prisma, pool, USERNAME_FORMS).create({ username: 'ivan', email: null, passwordHash: 'x', scopes: [] })
  await prisma.refreshToken.create({ data: { jti: 'rt-1', familyId: 'fam-1', userId: user.id, clientId: created.client_id, scope: '', kid: 'k', expiresAt: new Date(Date.now() + 60_000) } })
  const out = JSON.parse(await run(clientCommand, ['disable', created.client_id, '--json']))
  t.same(out, { client_id: created.client_id, disabled: true, refresh_families_revoked: 1 })
  t.equal((await prisma.client.findUnique({ where: { id: created.client_id } }))?.disabled, true)
  t.ok((await prisma.refreshToken.findUnique({ where: { jti: 'rt-1' } }))?.revokedAt)
  t.match(await run(clientCommand, ['enable', created.client_id]), /enabled/)
  t.equal((await prisma.client.findUnique({ where: { id: created.client_id } }))?.disabled, false)
  await t.rejects(run(clientCommand, ['disable', 'nope']), /no client nope/)
  await t.rejects(run(clientCommand, ['disable']), /usage/)
  const audit = await prisma.auditEvent.findMany({ where: { type: 'client_updated', subject: created.client_id } })
  t.equal(audit.length, 2)
})

t.test('consent revoke also revokes the families the user gave the client', async (t) => {
  const pool = createPool({ url, poolMax: 1 })
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const user = await prismaUserStore(prisma, pool, USERNAME_FORMS).create({ username: 'judy', email: null, passwordHash: 'x', scopes: [] })
  await prismaConsentStore(prisma).grant(user.id, 'rp', ['openid'])
  await prisma.refreshToken.create({ data: { jti: 'rt-judy', familyId: 'fam-judy', userId: user.id, clientId: 'rp', scope: 'openid', kid: 'k', expiresAt: new Date(Date.now() + 60_000) } })
  const out = JSON.parse(await run(consentCommand, ['revoke', '--user', 'judy', '--client', 'rp', '--json']))
  t.same(out, { user_id: user.id, client_id: 'rp', revoked: true, refresh_families_revoked: 1 })
  t.ok((await prisma.refreshToken.findUnique({ where: { jti: 'rt-judy' } }))?.revokedAt)
  t.equal(await prisma.auditEvent.count({ where: { type: 'consent_revoked', subject: user.id } }), 1)
})
