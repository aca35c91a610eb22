/**
 * The refresh-token store's rotation contract on real PostgreSQL: one-time use is enforced by the
 * database, a consumed row names its successor (what a retry gets again), the family's scope is
 * narrowed to what client, user and consent allow now, a family ends at its maximum age, and of
 * many concurrent rotations of one token exactly one wins.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { createTestDatabase } from '../../helper.js'
import { createPool, createPrisma } from '../../../src/db/connection.js'
import { exchangeRefreshToken, prismaRefreshTokenStore } from '../../../src/storage/prisma/refresh_tokens.js'
import type { NewRefreshToken, RefreshExchange, RefreshPresented } from '../../../src/storage/types.js'
import type { PrismaClient } from '../../../src/generated/prisma/client.js'
import { USER_BASELINE_SCOPES } from '../../../src/domain/scopes.js'

/** The claims the grant would read from the token's JWT (its row, as issued). */
async function claimsOf (prisma: PrismaClient, jti: string): Promise<RefreshPresented | undefined> {
  const row = await prisma.refreshToken.findUnique({ where: { jti } })
  return row?.userId ? { scope: row.scope, subject: row.userId, sessionId: row.sessionId ?? undefined } : undefined
}

async function setup (t: Test) {
  const url = await createTestDatabase(t)
  const pool = createPool({ url, poolMax: 5 })
  const prisma = createPrisma({ url, poolMax: 5 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const userId = randomUUID()
  await prisma.user.create({ data: { id: userId, username: `u-${userId}`, passwordHash: 'x' } })
  const store = prismaRefreshTokenStore(prisma, pool)
  const token = (familyId: string = randomUUID(), overrides: Partial<NewRefreshToken> = {}): NewRefreshToken => ({
    jti: randomUUID(), familyId, userId, clientId: 'app', scope: 'read write', audience: ['https://api.example.com', 'https://b.example.com'],
    kid: 'kid-1', sessionId: null, expiresAt: new Date(Date.now() + 3600_000), authTime: null, acr: null, amr: [], ...overrides,
  })
  const successor = () => ({ jti: randomUUID(), kid: 'kid-2', expiresAt: new Date((Math.floor(Date.now() / 1000) + 7200) * 1000) })
  await prisma.client.create({ data: { id: 'app', name: 'app', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'] } })
  await prisma.client.create({ data: { id: 'other', name: 'other', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'] } })
  await prisma.user.update({ where: { id: userId }, data: { scopes: ['read', 'write'] } })
  // What the grant passes: the presented token's signed claims, which name its row's family, scope, user and session.
  const exchange = async (request: Omit<RefreshExchange, 'familyMaxAge' | 'userBaselineScopes'> & Partial<RefreshExchange>) =>
    store.exchange({ familyMaxAge: 30 * 86_400, userBaselineScopes: USER_BASELINE_SCOPES, presented: await claimsOf(prisma, request.jti), ...request })
  return { store, token, userId, successor, prisma, exchange, pool }
}

t.test('exchange consumes a live token and stores a successor that inherits family, user, scope, audience and session', async (t) => {
  const { store, token, userId, successor, exchange, prisma } = await setup(t)
  // A token bound to a browser session rotates while the session lasts (its end is refused: test/routes/oauth/session_end.test.ts).
  await prisma.session.create({ data: { id: 'sid-1', tokenHash: 'h-sid-1', userId, authTime: new Date(), expiresAt: new Date(Date.now() + 3600_000) } })
  const first = token(undefined, { sessionId: 'sid-1' })
  await store.create(first)
  const next = successor()
  const now = new Date()
  const result = await exchange({ jti: first.jti, clientId: 'app', successor: next, now })
  t.equal(result?.rotated, true)
  t.match(result?.record, { jti: first.jti, familyId: first.familyId, userId, clientId: 'app', scope: 'read write', audience: first.audience, sessionId: 'sid-1', consumedAt: null, userActive: true })
  t.equal((await store.find(first.jti))?.consumedAt?.getTime(), now.getTime())
  const stored = await store.find(next.jti)
  t.match(stored, { familyId: first.familyId, userId, clientId: 'app', scope: 'read write', audience: first.audience, kid: 'kid-2', sessionId: 'sid-1', consumedAt: null, revokedAt: null })
  t.equal(stored?.expiresAt.getTime(), next.expiresAt.getTime())
})

t.test('the login\'s auth_time, acr and amr go to every successor unchanged; a retry reads them again', async (t) => {
  const { store, token, successor, exchange } = await setup(t)
  const authTime = new Date(Math.floor(Date.now() / 1000 - 600) * 1000)
  const first = token(undefined, { authTime, acr: 'urn:stamp:acr:mfa', amr: ['pwd', 'otp', 'mfa'] })
  await store.create(first)
  let jti = first.jti
  for (const round of [1, 2]) {
    const next = successor()
    const result = await exchange({ jti, clientId: 'app', successor: next, now: new Date() })
    t.equal(result?.rotated, true, `round ${round} rotated`)
    t.equal(result?.record.authTime?.getTime(), authTime.getTime(), `round ${round}: the original auth_time`)
    t.equal(result?.record.acr, 'urn:stamp:acr:mfa')
    t.same(result?.record.amr, ['pwd', 'otp', 'mfa'])
    const stored = await store.find(next.jti)
    t.match(stored, { acr: 'urn:stamp:acr:mfa', amr: ['pwd', 'otp', 'mfa'] }, `round ${round}: the successor inherits them`)
    t.equal(stored?.authTime?.getTime(), authTime.getTime())
    // The retry path: the consumed token presented again reads the same facts.
    const again = await exchange({ jti, clientId: 'app', successor: successor(), now: new Date() })
    t.equal(again?.rotated, false)
    t.equal(again?.record.authTime?.getTime(), authTime.getTime(), `round ${round}: a retry sees the same auth_time`)
    t.equal(again?.record.acr, 'urn:stamp:acr:mfa')
    jti = next.jti
  }
})

t.test('the consuming UPDATE stays HOT: no index names a column it writes or the login columns', async (t) => {
  const { store, token, successor, pool } = await setup(t)
  const { rows: indexes } = await pool.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE tablename = 'refresh_tokens'")
  for (const { indexdef } of indexes) {
    t.notMatch(indexdef, /consumed_at|successor_jti|auth_time|\bacr\b|\bamr\b/, `index without a changing or login column: ${indexdef}`)
  }
  const first = token(undefined, { authTime: new Date(), acr: 'urn:stamp:acr:pwd', amr: ['pwd'] })
  await store.create(first)
  // The transaction's own statistics (pg_stat_xact_*): the consumption was a heap-only update.
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const result = await exchangeRefreshToken(client, { jti: first.jti, clientId: 'app', successor: successor(), now: new Date(), familyMaxAge: 30 * 86_400, userBaselineScopes: USER_BASELINE_SCOPES, presented: { scope: first.scope, subject: first.userId! } })
    t.equal(result?.rotated, true)
    const { rows: [stats] } = await client.query<{ upd: string, hot: string }>(
      "SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = 'refresh_tokens'")
    t.equal(Number(stats.upd), 1, 'one row updated')
    t.equal(Number(stats.hot), 1, 'and it was a HOT update')
    await client.query('ROLLBACK')
  } finally {
    client.release()
  }
})

t.test('exchange consumes nothing for another client, an uncovered resource, a disabled user, or a token that is not live', async (t) => {
  const { store, token, userId, successor, prisma, exchange } = await setup(t)
  const live = token()
  await store.create(live)
  const refused = [
    { clientId: 'other' },
    { clientId: 'app', resources: ['https://c.example.com'] },
    { clientId: 'app', resources: ['https://api.example.com', 'https://c.example.com'] },
  ]
  for (const request of refused) {
    const next = successor()
    const result = await exchange({ jti: live.jti, successor: next, now: new Date(), ...request })
    t.equal(result?.rotated, false, JSON.stringify(request))
    t.equal(result?.record.jti, live.jti)
    t.equal(await store.find(next.jti), null, 'no successor stored')
  }
  t.equal((await store.find(live.jti))?.consumedAt, null, 'still live')
  t.equal((await exchange({ jti: live.jti, clientId: 'app', resources: ['https://b.example.com'], successor: successor(), now: new Date() }))?.rotated, true,
    'a covered resource rotates')

  t.equal(await exchange({ jti: randomUUID(), clientId: 'app', successor: successor(), now: new Date() }), null, 'unknown token')

  const expired = token(undefined, { expiresAt: new Date(Date.now() - 1000) })
  const revoked = token()
  await store.create(expired)
  await store.create(revoked)
  await store.revokeFamily(revoked.familyId, new Date())
  for (const jti of [expired.jti, revoked.jti, live.jti]) {
    t.equal((await exchange({ jti, clientId: 'app', successor: successor(), now: new Date() }))?.rotated, false)
  }

  const active = token()
  await store.create(active)
  await prisma.user.update({ where: { id: userId }, data: { disabled: true } })
  const result = await exchange({ jti: active.jti, clientId: 'app', successor: successor(), now: new Date() })
  t.equal(result?.rotated, false)
  t.equal(result?.record.userActive, false)
  t.equal((await store.find(active.jti))?.consumedAt, null)
})

t.test('of 20 concurrent exchanges of one token exactly one rotates and exactly one successor exists', async (t) => {
  const { store, token, successor, prisma, exchange } = await setup(t)
  const first = token()
  await store.create(first)
  const results = await Promise.all(Array.from({ length: 20 }, () => exchange({ jti: first.jti, clientId: 'app', successor: successor(), now: new Date() })))
  t.equal(results.filter((r) => r?.rotated).length, 1)
  t.equal(await prisma.refreshToken.count({ where: { familyId: first.familyId } }), 2)
})

t.test('a consumed row names its successor; presented again, the statement returns it and stores nothing', async (t) => {
  const { store, token, successor, prisma, exchange } = await setup(t)
  const first = token()
  await store.create(first)
  const next = successor()
  const now = new Date()
  t.equal((await exchange({ jti: first.jti, clientId: 'app', successor: next, now }))?.rotated, true)
  t.equal((await prisma.refreshToken.findUnique({ where: { jti: first.jti } }))?.successorJti, next.jti)
  const again = await exchange({ jti: first.jti, clientId: 'app', successor: successor(), now: new Date() })
  t.equal(again?.rotated, false)
  t.same(again?.successor, { jti: next.jti, kid: 'kid-2', scope: 'read write', expiresAt: next.expiresAt, live: true })
  t.equal(again?.record.consumedAt?.getTime(), now.getTime())
  t.equal(await prisma.refreshToken.count({ where: { familyId: first.familyId } }), 2, 'no second successor')
  // Once the successor is consumed it is no longer live: the old token is reuse from then on.
  await exchange({ jti: next.jti, clientId: 'app', successor: successor(), now: new Date() })
  t.equal((await exchange({ jti: first.jti, clientId: 'app', successor: successor(), now: new Date() }))?.successor?.live, false)
})

t.test('exchange narrows the successor\'s scope to what client, user and consent allow now', async (t) => {
  const { store, token, successor, prisma, exchange, userId } = await setup(t)
  const first = token(undefined, { scope: 'openid read write' })
  await store.create(first)
  await prisma.user.update({ where: { id: userId }, data: { scopes: [] } })
  const next = successor()
  const result = await exchange({ jti: first.jti, clientId: 'app', successor: next, now: new Date() })
  t.equal(result?.grantedScope, '', 'the client does not hold openid, the user no longer holds read or write')
  t.equal(result?.rotated, false, 'nothing left: nothing consumed')

  await prisma.client.update({ where: { id: 'app' }, data: { scopes: ['openid', 'read', 'write'] } })
  await prisma.user.update({ where: { id: userId }, data: { scopes: ['write'] } })
  const narrowed = await exchange({ jti: first.jti, clientId: 'app', successor: next, now: new Date() })
  t.equal(narrowed?.grantedScope, 'openid write', 'openid is a baseline scope; read is gone')
  t.same(narrowed?.issued?.scope, 'openid write')
  t.equal((await store.find(next.jti))?.scope, 'openid write')

  // A third-party client: only what the consent covers.
  await prisma.client.update({ where: { id: 'app' }, data: { firstParty: false } })
  await prisma.consent.create({ data: { userId, clientId: 'app', scopes: ['write'] } })
  const third = await exchange({ jti: next.jti, clientId: 'app', successor: successor(), now: new Date() })
  t.equal(third?.issued?.scope, 'write')
})

t.test('the first-party hint picks a cheaper statement, never a grant: the client\'s current flag decides', async (t) => {
  const { store, token, successor, prisma, exchange, userId } = await setup(t)
  // First-party and hinted so: rotates with the whole scope, no consent needed.
  const first = token()
  await store.create(first)
  const next = successor()
  const rotated = await exchange({ jti: first.jti, clientId: 'app', successor: next, now: new Date(), firstParty: true })
  t.equal(rotated?.rotated, true)
  t.equal(rotated?.issued?.scope, 'read write')

  // The client became third-party after the caller cached it: the stale hint gets what the consent covers.
  await prisma.client.update({ where: { id: 'app' }, data: { firstParty: false } })
  await prisma.consent.create({ data: { userId, clientId: 'app', scopes: ['read'] } })
  const stale = await exchange({ jti: next.jti, clientId: 'app', successor: successor(), now: new Date(), firstParty: true })
  t.equal(stale?.grantedScope, 'read', 'narrowed to the consent, as without the hint')
  t.equal(stale?.issued?.scope, 'read')

  // No consent at all: nothing to grant, nothing consumed, the hint notwithstanding.
  await prisma.consent.deleteMany({ where: { userId, clientId: 'app' } })
  const other = token()
  await store.create(other)
  const none = await exchange({ jti: other.jti, clientId: 'app', successor: successor(), now: new Date(), firstParty: true })
  t.equal(none?.grantedScope, '')
  t.equal(none?.rotated, false)
  t.equal((await store.find(other.jti))?.consumedAt, null, 'not consumed')
})

t.test('a successor never outlives its family, and an ended family does not rotate', async (t) => {
  const { store, token, successor, prisma, exchange } = await setup(t)
  const first = token()
  await store.create(first)
  const start = new Date(Date.now() - 3000_000)
  await prisma.refreshToken.update({ where: { jti: first.jti }, data: { familyCreatedAt: start } })
  const next = successor()
  const result = await exchange({ jti: first.jti, clientId: 'app', successor: next, now: new Date(), familyMaxAge: 3600 })
  t.equal(result?.rotated, true)
  const end = Math.floor(start.getTime() / 1000) * 1000 + 3600_000
  t.equal(result?.familyEnded, false)
  t.equal(result?.issued?.expiresAt.getTime(), end, 'capped at the family\'s end (whole seconds)')
  const stored = await prisma.refreshToken.findUnique({ where: { jti: next.jti } })
  t.equal(stored?.familyCreatedAt.getTime(), start.getTime(), 'the family start is inherited')
  const late = await exchange({ jti: next.jti, clientId: 'app', successor: successor(), now: new Date(end + 1000), familyMaxAge: 3600 })
  t.equal(late?.rotated, false)
  t.equal(late?.familyEnded, true)
})

t.test('revokeFamilies revokes the live families of a user/client holding a scope', async (t) => {
  const { store, token, userId, prisma } = await setup(t)
  const read = token(undefined, { scope: 'read' })
  const write = token(undefined, { scope: 'read write' })
  const otherClient = token(undefined, { scope: 'write', clientId: 'other' })
  for (const row of [read, write, otherClient]) await store.create(row)
  t.equal(await store.revokeFamilies({ userId, clientId: 'app', scopes: ['write'] }, new Date()), 1)
  t.ok((await store.find(write.jti))?.revokedAt)
  t.equal((await store.find(read.jti))?.revokedAt, null)
  t.equal((await store.find(otherClient.jti))?.revokedAt, null)
  t.equal(await store.revokeFamilies({ userId, scopes: ['write'] }, new Date()), 1, 'already revoked families do not count')
  t.equal(await store.revokeFamilies({ userId, clientId: 'app' }, new Date()), 1)
  t.equal(await prisma.refreshToken.count({ where: { revokedAt: null } }), 0)
})

t.test('the presented claims are hints, never a grant: one that does not match the row leaves the decision to the row', async (t) => {
  const { store, token, userId, successor, prisma, exchange } = await setup(t)
  await prisma.session.create({ data: { id: 'sid-h', tokenHash: 'h-sid-h', userId, authTime: new Date(), expiresAt: new Date(Date.now() + 3600_000) } })
  const real = { scope: 'read write', subject: userId }
  const familyId = randomUUID()
  const wrong: Array<[string, Partial<RefreshPresented>]> = [
    ['a wider scope', { scope: 'read write admin' }],
    ['another user', { subject: randomUUID() }],
    ['a session the row does not have', { sessionId: 'sid-h' }],
  ]
  for (const [name, claims] of wrong) {
    const row = token(familyId)
    await store.create(row)
    const next = successor()
    const result = await exchange({ jti: row.jti, clientId: 'app', successor: next, now: new Date(), firstParty: true, presented: { ...real, ...claims } })
    t.equal(result?.rotated, true, `${name}: the full statement rotates it`)
    t.equal(result?.issued?.scope, 'read write')
    t.hasStrict(result?.record, { familyId, scope: 'read write', userId, sessionId: null }, `${name}: what the row says`)
    t.hasStrict(await store.find(next.jti), { familyId, scope: 'read write', userId, sessionId: null }, `${name}: the successor is the row's`)
  }

  // A token that names no session (older than `sid`) while its row has one: the session is still checked.
  const bound = token(undefined, { sessionId: 'sid-h' })
  await store.create(bound)
  await prisma.session.update({ where: { id: 'sid-h' }, data: { endedAt: new Date() } })
  const result = await exchange({ jti: bound.jti, clientId: 'app', successor: successor(), now: new Date(), firstParty: true, presented: { scope: bound.scope, subject: userId } })
  t.equal(result?.rotated, false, 'an ended session does not rotate')
  t.equal(result?.sessionActive, false)
  t.equal((await store.find(bound.jti))?.consumedAt, null, 'nothing consumed')
})
