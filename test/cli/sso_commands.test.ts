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
