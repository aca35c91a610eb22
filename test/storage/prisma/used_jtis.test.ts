/**
 * The shared one-time JWT identifier store on a real database: first use wins, a replay is
 * refused until the JWT expires, namespaces are separate, and concurrent uses race to one winner.
 *
 * @module
 */
import t from 'tap'
import { createTestDatabase, testPool } from '../../helper.js'
import { createPrisma } from '../../../src/db/connection.js'
import { prismaReplayStore } from '../../../src/storage/prisma/used_jtis.js'
import pg from 'pg'

t.test('a jti is accepted once per namespace until it expires', async (t) => {
  const url = await createTestDatabase(t)
  const pool = testPool(url, 8)
  const prisma = createPrisma({ url, poolMax: 8 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  // On Prisma, and on the pg pool under it (what the app uses): the same statement.
  for (const [via, store] of [['prisma', prismaReplayStore(prisma)], ['pool', prismaReplayStore(prisma, pool)]] as const) {
    const ns = (name: string) => `${via}:${name}`
    const now = new Date()
    const inAMinute = new Date(now.getTime() + 60_000)

    t.equal(await store.markUsed(ns('client_assertion:a'), 'j1', inAMinute, now), true, 'first use')
    t.equal(await store.markUsed(ns('client_assertion:a'), 'j1', inAMinute, now), false, 'replay refused')
    t.equal(await store.markUsed(ns('client_assertion:b'), 'j1', inAMinute, now), true, 'another namespace is separate')

    const later = new Date(inAMinute.getTime() + 1)
    t.equal(await store.markUsed(ns('client_assertion:a'), 'j1', new Date(later.getTime() + 60_000), later), true,
      'after its JWT expired the identifier may be used again (the old JWT fails on exp)')

    const results = await Promise.all(Array.from({ length: 16 }, () => store.markUsed(ns('dpop:k'), 'race', inAMinute, now)))
    t.equal(results.filter(Boolean).length, 1, 'exactly one of 16 concurrent uses wins')
  }
})
