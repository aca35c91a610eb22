/**
 * Taking a privilege away reaches refresh tokens (issue 11 item 2): every refresh narrows the
 * family's scope to what the client, the user and (for third-party clients) the consent hold now;
 * removing a scope, withdrawing consent or disabling a client revokes the affected families; the
 * admin API re-checks the token's client; a family ends REFRESH_FAMILY_MAX_AGE after it started.
 *
 * @module
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createAdmin, createClient, createUser, postForm, type TestClient, passwordGrant as login, refreshGrant as refresh } from '../helper.js'
import { issueTokenPair } from '../../src/grants/issue_pair.js'
import { consentCommand } from '../../src/cli/consent.js'

const claims = decodeJwt

async function familyOf (app: FastifyInstance, token: string) {
  return (await app.refreshTokens.find(claims(token).jti as string))!.familyId
}

async function familyRevoked (app: FastifyInstance, token: string): Promise<boolean> {
  const familyId = await familyOf(app, token)
  const live = await app.prisma.refreshToken.count({ where: { familyId, revokedAt: null } })
  return live === 0
}

/** A family started through /authorize for a third-party client (what the code exchange issues). */
async function consentedFamily (app: FastifyInstance, client: TestClient, userId: string, scope: string) {
  // Issued in a browser session, as the authorization code grant does (a refresh of an ended or unknown session is refused).
  const sessionId = `sid-${userId}`
  await app.prisma.session.upsert({ where: { id: sessionId }, create: { id: sessionId, tokenHash: sessionId, userId, authTime: new Date(), expiresAt: new Date(Date.now() + 3600_000) }, update: {} })
  return issueTokenPair({ client: client.client, sub: userId, userId, scope, audience: client.client.audiences, refresh: true, sessionId }, app.grantServices)
}

t.test('a refresh narrows the scope to what the user and the client hold now', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write', 'delete'] })
  const { user, username, password } = await createUser(app, undefined, undefined, ['read', 'write', 'delete'])
  const first = await login(app, client, username, password)
  t.equal(first.scope, 'read write delete')

  // Changed behind the admin API's back (a script, the database): the refresh itself must narrow.
  await app.prisma.user.update({ where: { id: user.id }, data: { scopes: ['read', 'write'] } })
  const afterUser = await refresh(app, client, first.refresh_token)
  t.equal(afterUser.statusCode, 200)
  t.equal(afterUser.json().scope, 'read write', 'the user no longer holds delete')
  t.equal(claims(afterUser.json().refresh_token).scope, 'read write', 'the successor carries the narrowed scope')
  t.equal(claims(afterUser.json().access_token).scope, 'read write')

  await app.prisma.client.update({ where: { id: client.client.id }, data: { scopes: ['read', 'delete'] } })
  app.clientCache.forget(client.client.id)
  const afterClient = await refresh(app, client, afterUser.json().refresh_token)
  t.equal(afterClient.statusCode, 200)
  t.equal(afterClient.json().scope, 'read', 'the client no longer holds write')
  // Giving delete back to the user does not give it back to the family: a family only narrows.
  await app.prisma.user.update({ where: { id: user.id }, data: { scopes: ['read', 'write', 'delete'] } })
  const later = await refresh(app, client, afterClient.json().refresh_token)
  t.equal(later.json().scope, 'read')
  // Asking for a scope the family lost is narrowed away, not an error that burns nothing.
  await app.prisma.user.update({ where: { id: user.id }, data: { scopes: [] } })
  const gone = await refresh(app, client, later.json().refresh_token, { scope: 'read' })
  t.equal(gone.statusCode, 400)
  t.equal(gone.json().error, 'invalid_grant', 'nothing left to grant')
  t.ok(await familyRevoked(app, later.json().refresh_token), 'a family with nothing left is revoked')
})

t.test('a third-party client\'s refresh narrows to what the consent still covers', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://rp.example/cb'], scopes: ['openid', 'read', 'write'] })
  const { user } = await createUser(app, undefined, undefined, ['read', 'write'])
  await app.consents.grant(user.id, client.client.id, ['openid', 'read', 'write'])
  const first = await consentedFamily(app, client, user.id, 'openid read write')
  const ok = await refresh(app, client, first.refresh_token!)
  t.equal(ok.json().scope, 'openid read write')

  // Consent narrowed in the database (the consent page only ever widens it): write goes.
  await app.prisma.consent.update({ where: { userId_clientId: { userId: user.id, clientId: client.client.id } }, data: { scopes: ['openid', 'read'] } })
  const narrowed = await refresh(app, client, ok.json().refresh_token)
  t.equal(narrowed.statusCode, 200)
  t.equal(narrowed.json().scope, 'openid read')

  // No consent row at all: nothing is covered any more.
  await app.prisma.consent.deleteMany({ where: { userId: user.id } })
  const refused = await refresh(app, client, narrowed.json().refresh_token)
  t.equal(refused.json().error, 'invalid_grant')

  // A first-party client never asked for consent: its families do not depend on one.
  const own = await createClient(app, { firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://own.example/cb'], scopes: ['openid', 'read'] })
  const mine = await consentedFamily(app, own, user.id, 'openid read')
  t.equal((await refresh(app, own, mine.refresh_token!)).json().scope, 'openid read')
})

t.test('withdrawing consent revokes the user\'s families of that client (admin API and CLI)', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const client = await createClient(app, { grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://rp.example/cb'], scopes: ['openid', 'read'] })
  const { user } = await createUser(app, undefined, undefined, ['read'])
  const { user: bystander } = await createUser(app, undefined, undefined, ['read'])
  for (const u of [user, bystander]) await app.consents.grant(u.id, client.client.id, ['openid', 'read'])
  const family = await consentedFamily(app, client, user.id, 'openid read')
  const other = await consentedFamily(app, client, bystander.id, 'openid read')

  const res = await app.inject({ method: 'DELETE', url: `/admin/users/${user.id}/consents/${client.client.id}`, headers: { authorization: admin.authorization } })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { revoked: true, refresh_families_revoked: 1 })
  t.same(await app.consents.granted(user.id, client.client.id), [])
  t.ok(await familyRevoked(app, family.refresh_token!))
  t.equal((await refresh(app, client, family.refresh_token!)).json().error, 'invalid_grant')
  t.notOk(await familyRevoked(app, other.refresh_token!), 'another user\'s family is untouched')
  const missing = await app.inject({ method: 'DELETE', url: `/admin/users/${user.id}/consents/${client.client.id}`, headers: { authorization: admin.authorization } })
  t.match(missing.json(), { revoked: false, refresh_families_revoked: 0 })

  // The CLI does the same.
  const config = app.config
  const write = process.stdout.write
  let out = ''
  process.stdout.write = ((chunk: string) => { out += chunk; return true }) as typeof process.stdout.write
  try {
    await consentCommand(['revoke', '--user', bystander.id, '--client', client.client.id, '--json'], config)
  } finally {
    process.stdout.write = write
  }
  t.match(JSON.parse(out), { revoked: true, refresh_families_revoked: 1 })
  t.ok(await familyRevoked(app, other.refresh_token!))
})

t.test('removing a scope from a user or a client revokes the families that carry it', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'] })
  const { user, username, password } = await createUser(app, undefined, undefined, ['read', 'write'])
  const withWrite = await login(app, client, username, password, 'read write')
  const readOnly = await login(app, client, username, password, 'read')

  const patch = await app.inject({ method: 'PATCH', url: `/admin/users/${user.id}`, headers: { authorization: admin.authorization }, payload: { scopes: ['read'] } })
  t.equal(patch.statusCode, 200)
  t.ok(await familyRevoked(app, withWrite.refresh_token), 'the family holding write is revoked')
  t.notOk(await familyRevoked(app, readOnly.refresh_token), 'a family without write lives on')
  t.equal((await refresh(app, client, withWrite.refresh_token)).json().error, 'invalid_grant')
  const audit = await app.prisma.auditEvent.findFirst({ where: { type: 'user_updated', subject: user.id } })
  t.match(audit?.detail, { refresh_families_revoked: 1 })

  const again = await login(app, client, username, password, 'read')
  const clientPatch = await app.inject({ method: 'PATCH', url: `/admin/clients/${client.client.id}`, headers: { authorization: admin.authorization }, payload: { scopes: ['write'] } })
  t.equal(clientPatch.statusCode, 200)
  t.ok(await familyRevoked(app, again.refresh_token), 'the client lost read: its read families are revoked')
  t.ok(await familyRevoked(app, readOnly.refresh_token))
})

t.test('disabling a client refuses it everywhere and revokes its families; enabling it again does not revive them', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)

  const res = await app.inject({ method: 'PATCH', url: `/admin/clients/${client.client.id}`, headers: { authorization: admin.authorization }, payload: { disabled: true } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().disabled, true)
  t.ok(await familyRevoked(app, first.refresh_token))
  const refused = await refresh(app, client, first.refresh_token)
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().error, 'invalid_client')
  const loginRefused = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })
  t.equal(loginRefused.json().error, 'invalid_client')

  const enabled = await app.inject({ method: 'PATCH', url: `/admin/clients/${client.client.id}`, headers: { authorization: admin.authorization }, payload: { disabled: false } })
  t.equal(enabled.json().disabled, false)
  t.equal((await refresh(app, client, first.refresh_token)).json().error, 'invalid_grant')
  t.equal((await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })).statusCode, 200)
})

t.test('a client disabled behind the admin API\'s back cannot refresh (the statement checks it)', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)
  // The instance's client cache still holds the enabled client: only the database knows.
  await app.clientCache.find(client.client.id)
  await app.prisma.client.update({ where: { id: client.client.id }, data: { disabled: true } })
  const res = await refresh(app, client, first.refresh_token)
  t.equal(res.json().error, 'invalid_grant')
  t.ok(await familyRevoked(app, first.refresh_token))
})

t.test('admin auth re-checks the token\'s client', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const users = (authorization: string) => app.inject({ method: 'GET', url: '/admin/users', headers: { authorization } })
  t.equal((await users(admin.authorization)).statusCode, 200)

  // The console client loses stamp:admin behind the admin API's back (no revocation ran).
  await app.prisma.client.update({ where: { id: admin.console.client.id }, data: { scopes: [] } })
  app.clientCache.forget(admin.console.client.id)
  const before = await users(admin.authorization)
  t.equal(before.statusCode, 401, 'an access token issued before is refused')
  t.equal(before.json().error, 'invalid_token')
  const refreshed = await refresh(app, admin.console, admin.refreshToken)
  if (refreshed.statusCode === 200) {
    t.notMatch(refreshed.json().scope, /stamp:admin/, 'a refresh through the client does not keep stamp:admin')
    t.not((await users(`Bearer ${refreshed.json().access_token}`)).statusCode, 200)
  } else {
    t.equal(refreshed.json().error, 'invalid_grant')
  }

  const second = await createAdmin(app)
  await app.prisma.client.update({ where: { id: second.console.client.id }, data: { disabled: true } })
  app.clientCache.forget(second.console.client.id)
  t.equal((await users(second.authorization)).statusCode, 401, 'a disabled client\'s token is refused')
  const third = await createAdmin(app)
  await app.prisma.client.delete({ where: { id: third.console.client.id } })
  app.clientCache.forget(third.console.client.id)
  t.equal((await users(third.authorization)).statusCode, 401, 'a deleted client\'s token is refused')
})

t.test('a family ends REFRESH_FAMILY_MAX_AGE after it started, however often it is refreshed', async (t) => {
  const maxAge = 3600
  const app = await build(t, { env: { REFRESH_FAMILY_MAX_AGE: String(maxAge), REFRESH_TOKEN_TTL: '86400' } })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)
  const familyId = await familyOf(app, first.refresh_token)
  const row = await app.prisma.refreshToken.findUnique({ where: { jti: claims(first.refresh_token).jti as string } })
  t.ok(row!.expiresAt.getTime() <= row!.familyCreatedAt.getTime() + maxAge * 1000 + 999, 'the first token already ends with the family')
  t.ok((claims(first.refresh_token).exp as number) * 1000 <= row!.familyCreatedAt.getTime() + maxAge * 1000 + 999)

  // The family started almost an hour ago (it was refreshed all along): the successor ends with it.
  const start = new Date(Date.now() - (maxAge - 120) * 1000)
  await app.prisma.refreshToken.updateMany({ where: { familyId }, data: { familyCreatedAt: start } })
  const res = await refresh(app, client, first.refresh_token)
  t.equal(res.statusCode, 200)
  const next = res.json().refresh_token as string
  const end = start.getTime() + maxAge * 1000
  t.ok((claims(next).exp as number) * 1000 <= end, 'the successor\'s exp does not outlive the family')
  t.ok((claims(next).exp as number) * 1000 > Date.now() + 60_000)
  const stored = await app.prisma.refreshToken.findUnique({ where: { jti: claims(next).jti as string } })
  t.ok(stored!.expiresAt.getTime() <= end)
  t.equal(stored!.familyCreatedAt.getTime(), start.getTime(), 'the successor inherits the family start')

  // Past the family's end: invalid_grant, even though the token itself has not expired.
  await app.prisma.refreshToken.updateMany({ where: { familyId }, data: { familyCreatedAt: new Date(Date.now() - (maxAge + 1) * 1000) } })
  const late = await refresh(app, client, next)
  t.equal(late.statusCode, 400)
  t.equal(late.json().error, 'invalid_grant')
  t.equal((await app.prisma.refreshToken.findUnique({ where: { jti: claims(next).jti as string } }))!.consumedAt, null, 'nothing consumed')
})

t.test('REFRESH_FAMILY_MAX_AGE defaults to 30 days', async (t) => {
  const app = await build(t)
  t.equal(app.config.policy.refreshFamilyMaxAge, 30 * 86_400)
})
