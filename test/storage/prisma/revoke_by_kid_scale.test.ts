/**
 * `stamp keys revoke` at scale: with a million historical refresh-token rows (consumed, revoked,
 * expired; all signed by the key being revoked), the revocation touches only live families and
 * its plan reads no refresh_tokens row by sequential scan.
 *
 * The wall-clock figure is measured by `bench/revoke_scale.ts`; here the plan is asserted, which
 * does not depend on how busy the machine is.
 *
 * @module
 */
import t from 'tap'
import pg from 'pg'
import { createTestDatabase } from '../../helper.js'
import { revokeFamiliesSignedByPlan, seedHistory } from '../../../bench/revoke_scale.js'
import { createPool, createPrisma } from '../../../src/db/connection.js'
import { revokeFamiliesSignedBy } from '../../../src/storage/prisma/refresh_tokens.js'

// 200k rows keep the test at a few seconds; the plan is the same at 1M (bench/revoke_scale.ts measures it there).
const HISTORY = Number(process.env.REVOKE_SCALE_ROWS ?? 200_000)

t.test('key revoke over a large history: live families only, no sequential scan', async (t) => {
  const url = await createTestDatabase(t)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const { kid, liveFamilies } = await seedHistory(client, { history: HISTORY, liveFamilies: 200 })

  const plan = await revokeFamiliesSignedByPlan(client, kid)
  t.notMatch(plan, /Seq Scan on refresh_tokens/, `no sequential scan over refresh_tokens:\n${plan}`)

  const pool = createPool({ url, poolMax: 1 })
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const historyRevokedBefore = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL`)
  const revoked = await revokeFamiliesSignedBy(prisma, kid, new Date())
  t.equal(revoked, liveFamilies, 'every live family signed with the key is revoked, counted once each')
  const { rows: [after] } = await client.query<{ live: number, revoked: number }>(`
    SELECT count(*) FILTER (WHERE kid = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > now())::int AS live,
           count(*) FILTER (WHERE revoked_at IS NOT NULL)::int AS revoked
    FROM refresh_tokens`, [kid])
  t.equal(after.live, 0, 'no live token signed with the key is left')
  t.ok(after.revoked - historyRevokedBefore.rows[0].n <= liveFamilies * 3, `only the live families' rows were written (${after.revoked - historyRevokedBefore.rows[0].n})`)
})
