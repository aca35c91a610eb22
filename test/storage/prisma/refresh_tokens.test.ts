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
import { createPrisma } from '../../../src/db/connection.js'
import { prismaRefreshTokenStore } from '../../../src/storage/prisma/refresh_tokens.js'
import type { NewRefreshToken } from '../../../src/storage/types.js'

async function setup (t: Test) {
  const url = await createTestDatabase(t)
  const prisma = createPrisma({ url, poolMax: 5 })
  t.teardown(() => prisma.$disconnect())
  const userId = randomUUID()
  await prisma.user.create({ data: { id: userId, username: `u-${userId}`, passwordHash: 'x' } })
  const store = prismaRefreshTokenStore(prisma)
  const token = (familyId: string = randomUUID(), overrides: Partial<NewRefreshToken> = {}): NewRefreshToken => ({
    jti: randomUUID(), familyId, userId, clientId: 'app', scope: 'read write', audience: ['https://api.example.com', 'https://b.example.com'],
    kid: 'kid-1', sessionId: null, expiresAt: new Date(Date.now() + 3600_000), ...overrides,
  })
  return { store, token, userId }
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
