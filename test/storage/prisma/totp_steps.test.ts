/**
 * A TOTP step on its own on a real database: accepted once (a later step only), and committed
 * synchronously (a hosted sign-in consumes its step in its own transaction, sign_ins.test.ts).
 *
 * @module
 */
import t from 'tap'
import pg from 'pg'
import { randomUUID } from 'node:crypto'
import { createTestDatabase, testPool } from '../../helper.js'
import { createPrisma } from '../../../src/db/connection.js'
import { prismaFactorStore } from '../../../src/storage/prisma/factors.js'

t.test('the step UPDATE: one use per step, committed synchronously', async (t) => {
  const url = await createTestDatabase(t)
  const pool = testPool(url, 1)
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const seen: Array<{ text: string, values: unknown[] }> = []
  const spy = { query: async (q: { text: string, values: unknown[] }) => { seen.push(q); return pool.query(q) } }
  const store = prismaFactorStore(prisma, spy as unknown as pg.Pool)
  const userId = randomUUID()
  const now = new Date()
  t.equal(await store.beginTOTP({ userId, secretEnc: 'sealed', kekId: 'k' }), true)
  t.equal(await store.acceptTOTPStep(userId, 10, now, true), true, 'enrolment confirmed with step 10')

  t.equal(await store.acceptTOTPStep(userId, 11, now, false), true, 'a sign-in at a later step')
  t.equal(await store.acceptTOTPStep(userId, 11, now, false), false, 'the same step again is refused')
  t.equal(await store.acceptTOTPStep(userId, 10, now, false), false, 'an earlier step is refused')
  t.equal((await store.findTOTP(userId))?.lastUsedStep, 11)
  t.equal(await store.acceptTOTPStep(randomUUID(), 12, now, false), false, 'no factor: refused')

  const signIn = seen.find((q) => /UPDATE totp_factors/.test(q.text))
  t.ok(signIn, 'the sign-in step runs on the pg pool')
  // Run the statement in an explicit transaction to read the setting it leaves for its commit.
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(signIn!.text, [userId, 12])
    t.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'on', 'its commit waits for the flush: nothing after it would')
    await client.query('ROLLBACK')
  } finally {
    client.release()
  }
  // Without the pool (the CLI's store), Prisma runs the same statement.
  const onPrisma = prismaFactorStore(prisma)
  t.equal(await onPrisma.acceptTOTPStep(userId, 14, now, false), true)
  t.equal(await onPrisma.acceptTOTPStep(userId, 14, now, false), false, 'replay refused on Prisma too')
  t.equal((await onPrisma.findTOTP(userId))?.lastUsedStep, 14)
})

t.test('the sign-in lookup runs on the pg pool and reads what Prisma reads', async (t) => {
  const url = await createTestDatabase(t)
  const pool = testPool(url, 1)
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const seen: string[] = []
  const spy = { query: async (q: { text: string, values: unknown[] }) => { seen.push(q.text); return pool.query(q) } }
  const store = prismaFactorStore(prisma, spy as unknown as pg.Pool)
  const onPrisma = prismaFactorStore(prisma)
  const userId = randomUUID()
  t.equal(await store.findTOTP(userId), null, 'none yet')
  await store.beginTOTP({ userId, secretEnc: 'sealed', kekId: 'k' })
  t.same(await store.findTOTP(userId), await onPrisma.findTOTP(userId), 'unconfirmed: the same record')
  await store.acceptTOTPStep(userId, 2 ** 40, new Date(), true)
  const record = await store.findTOTP(userId)
  t.same(record, await onPrisma.findTOTP(userId), 'confirmed: the same record')
  t.equal(record?.lastUsedStep, 2 ** 40, 'a BIGINT step comes back as a number')
  t.ok(record?.confirmedAt instanceof Date)
  t.ok(seen.some((text) => /FROM totp_factors/.test(text)), 'the lookup ran on the pool')
})
