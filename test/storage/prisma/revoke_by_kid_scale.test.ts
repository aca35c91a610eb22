/**
 * `stamp keys revoke` at scale: with a large history of refresh-token rows (consumed, revoked,
 * expired; all signed by the key being revoked), the revocation writes only live families, reaches
 * their rows through the family index, and stays well under a second.
 *
 * The statement reads the key's unexpired tokens (no index may name consumed_at: the refresh
 * grant's UPDATE stays HOT), so its cost grows with them; `bench/revoke_scale.ts` measures it at
 * 1M rows. Here, at 200k, it must take under a second even on a busy machine (a few hundred
 * milliseconds at 1M when idle).
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

t.test('key revoke over a large history: live families only, through the family index, under a second', async (t) => {
  const url = await createTestDatabase(t)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const { kid, liveFamilies } = await seedHistory(client, { history: HISTORY, liveFamilies: 200 })

  const plan = await revokeFamiliesSignedByPlan(client, kid)
  t.match(plan, /Update on refresh_tokens[\s\S]*Index Scan using refresh_tokens_family_id_idx/, `the families' rows are reached through the family index:\n${plan}`)
  t.notMatch(plan, /Nested Loop/, `no per-row loop over the history:\n${plan}`)

  const pool = createPool({ url, poolMax: 1 })
  const prisma = createPrisma({ url, poolMax: 1 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const historyRevokedBefore = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL`)
  await prisma.$queryRawUnsafe('SELECT 1') // connect first: the figure is the statement's
  const started = performance.now()
  const revoked = await revokeFamiliesSignedBy(prisma, kid, new Date())
  const ms = performance.now() - started
  t.ok(ms < 1000, `revoked in ${ms.toFixed(0)} ms over ${HISTORY} rows`)
  t.equal(revoked, liveFamilies, 'every live family signed with the key is revoked, counted once each')
  const { rows: [after] } = await client.query<{ live: number, revoked: number }>(`
    SELECT count(*) FILTER (WHERE kid = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > now())::int AS live,
           count(*) FILTER (WHERE revoked_at IS NOT NULL)::int AS revoked
    FROM refresh_tokens`, [kid])
  t.equal(after.live, 0, 'no live token signed with the key is left')
  t.ok(after.revoked - historyRevokedBefore.rows[0].n <= liveFamilies * 3, `only the live families' rows were written (${after.revoked - historyRevokedBefore.rows[0].n})`)
})
