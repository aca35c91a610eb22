/**
 * The refresh-token store's rotation contract on real PostgreSQL: one-time use is enforced by the
 * database, a second presentation is reuse (or, inside the grace window, a sibling successor),
 * and of many concurrent rotations of one token exactly one wins.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { createTestDatabase } from '../../helper.js'
import { createPool, createPrisma } from '../../../src/db/connection.js'
import { prismaRefreshTokenStore } from '../../../src/storage/prisma/refresh_tokens.js'
import type { NewRefreshToken } from '../../../src/storage/types.js'

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
    kid: 'kid-1', sessionId: null, expiresAt: new Date(Date.now() + 3600_000), ...overrides,
  })
  const successor = () => ({ jti: randomUUID(), kid: 'kid-2', expiresAt: new Date(Date.now() + 7200_000) })
  return { store, token, userId, successor, prisma }
}

t.test('rotate consumes the token and stores the successor with every field', async (t) => {
  const { store, token, userId } = await setup(t)
  const first = token()
  await store.create(first)
  const successor = token(first.familyId, { sessionId: 'sid-1' })
  const now = new Date()
  t.same(await store.rotate(first.jti, successor, now, 0), { outcome: 'rotated' })
  const consumed = await store.find(first.jti)
  t.equal(consumed?.consumedAt?.getTime(), now.getTime())
  const stored = await store.find(successor.jti)
  t.match(stored, { ...successor, userId, consumedAt: null, revokedAt: null })
  t.equal(stored?.expiresAt.getTime(), successor.expiresAt.getTime())
  t.ok(stored?.createdAt instanceof Date)
})

t.test('rotate stores a successor without a user', async (t) => {
  const { store, token } = await setup(t)
  const first = token(undefined, { userId: null })
  await store.create(first)
  const successor = token(first.familyId, { userId: null, audience: [] })
  t.same(await store.rotate(first.jti, successor, new Date(), 0), { outcome: 'rotated' })
  t.match(await store.find(successor.jti), { userId: null, audience: [] })
})

t.test('a consumed token is reuse, and no successor is stored', async (t) => {
  const { store, token } = await setup(t)
  const first = token()
  await store.create(first)
  await store.rotate(first.jti, token(first.familyId), new Date(), 0)
  const second = token(first.familyId)
  const result = await store.rotate(first.jti, second, new Date(), 0)
  t.equal(result.outcome, 'reused')
  t.equal(await store.find(second.jti), null)
})

t.test('unknown, revoked and expired tokens do not rotate', async (t) => {
  const { store, token } = await setup(t)
  t.same(await store.rotate(randomUUID(), token(), new Date(), 0), { outcome: 'unknown' })

  const revoked = token()
  await store.create(revoked)
  await store.revokeFamily(revoked.familyId, new Date())
  t.equal((await store.rotate(revoked.jti, token(revoked.familyId), new Date(), 0)).outcome, 'reused')

  const expired = token(undefined, { expiresAt: new Date(Date.now() - 1000) })
  await store.create(expired)
  const successor = token(expired.familyId)
  t.equal((await store.rotate(expired.jti, successor, new Date(), 0)).outcome, 'reused')
  t.equal(await store.find(successor.jti), null)
})

t.test('inside the grace window a consumed token rotates again, unless its family was revoked', async (t) => {
  const { store, token } = await setup(t)
  const first = token()
  await store.create(first)
  await store.rotate(first.jti, token(first.familyId), new Date(), 10)
  const sibling = token(first.familyId)
  t.same(await store.rotate(first.jti, sibling, new Date(), 10), { outcome: 'rotated' })
  t.ok(await store.find(sibling.jti))

  await store.revokeFamily(first.familyId, new Date())
  t.equal((await store.rotate(first.jti, token(first.familyId), new Date(), 10)).outcome, 'reused')
})

t.test('of concurrent rotations of one token exactly one wins', async (t) => {
  const { store, token } = await setup(t)
  const first = token()
  await store.create(first)
  const results = await Promise.all(Array.from({ length: 8 }, () => store.rotate(first.jti, token(first.familyId), new Date(), 0)))
  t.equal(results.filter((r) => r.outcome === 'rotated').length, 1)
  t.equal(results.filter((r) => r.outcome === 'reused').length, 7)
})

t.test('exchange consumes a live token and stores a successor that inherits family, user, scope, audience and session', async (t) => {
  const { store, token, userId, successor } = await setup(t)
  const first = token(undefined, { sessionId: 'sid-1' })
  await store.create(first)
  const next = successor()
  const now = new Date()
  const result = await store.exchange({ jti: first.jti, clientId: 'app', successor: next, now })
  t.equal(result?.rotated, true)
  t.match(result?.record, { jti: first.jti, familyId: first.familyId, userId, clientId: 'app', scope: 'read write', audience: first.audience, sessionId: 'sid-1', consumedAt: null, userActive: true })
  t.equal((await store.find(first.jti))?.consumedAt?.getTime(), now.getTime())
  const stored = await store.find(next.jti)
  t.match(stored, { familyId: first.familyId, userId, clientId: 'app', scope: 'read write', audience: first.audience, kid: 'kid-2', sessionId: 'sid-1', consumedAt: null, revokedAt: null })
  t.equal(stored?.expiresAt.getTime(), next.expiresAt.getTime())
})

t.test('exchange consumes nothing for another client, an uncovered resource, a disabled user, or a token that is not live', async (t) => {
  const { store, token, userId, successor, prisma } = await setup(t)
  const live = token()
  await store.create(live)
  const refused = [
    { clientId: 'other' },
    { clientId: 'app', resources: ['https://c.example.com'] },
    { clientId: 'app', resources: ['https://api.example.com', 'https://c.example.com'] },
  ]
  for (const request of refused) {
    const next = successor()
    const result = await store.exchange({ jti: live.jti, successor: next, now: new Date(), ...request })
    t.equal(result?.rotated, false, JSON.stringify(request))
    t.equal(result?.record.jti, live.jti)
    t.equal(await store.find(next.jti), null, 'no successor stored')
  }
  t.equal((await store.find(live.jti))?.consumedAt, null, 'still live')
  t.equal((await store.exchange({ jti: live.jti, clientId: 'app', resources: ['https://b.example.com'], successor: successor(), now: new Date() }))?.rotated, true,
    'a covered resource rotates')

  t.equal(await store.exchange({ jti: randomUUID(), clientId: 'app', successor: successor(), now: new Date() }), null, 'unknown token')

  const expired = token(undefined, { expiresAt: new Date(Date.now() - 1000) })
  const revoked = token()
  await store.create(expired)
  await store.create(revoked)
  await store.revokeFamily(revoked.familyId, new Date())
  for (const jti of [expired.jti, revoked.jti, live.jti]) {
    t.equal((await store.exchange({ jti, clientId: 'app', successor: successor(), now: new Date() }))?.rotated, false)
  }

  const active = token()
  await store.create(active)
  await prisma.user.update({ where: { id: userId }, data: { disabled: true } })
  const result = await store.exchange({ jti: active.jti, clientId: 'app', successor: successor(), now: new Date() })
  t.equal(result?.rotated, false)
  t.equal(result?.record.userActive, false)
  t.equal((await store.find(active.jti))?.consumedAt, null)
})

t.test('of 20 concurrent exchanges of one token exactly one rotates and exactly one successor exists', async (t) => {
  const { store, token, successor, prisma } = await setup(t)
  const first = token()
  await store.create(first)
  const results = await Promise.all(Array.from({ length: 20 }, () => store.exchange({ jti: first.jti, clientId: 'app', successor: successor(), now: new Date() })))
  t.equal(results.filter((r) => r?.rotated).length, 1)
  t.equal(await prisma.refreshToken.count({ where: { familyId: first.familyId } }), 2)
})
