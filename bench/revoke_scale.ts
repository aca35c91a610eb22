/**
 * `stamp keys revoke` against a large history: `tsx bench/revoke_scale.ts [ROWS]` (default 1M).
 *
 * Seeds a throw-away database with ROWS historical refresh-token rows (consumed, revoked and
 * expired, in families of ten, all signed by the key that is then revoked) plus a few hundred live
 * families, then times the revocation statement the keyring runs and prints its plan. History
 * is what a database without retention (or with a long margin) accumulates; the statement writes
 * only the live families, and reads the key's unexpired tokens (expired ones are skipped by the
 * index): it must stay under a second at 1M rows.
 *
 * Also used by test/storage/revoke_by_kid_scale.test.ts, which asserts the plan.
 *
 * @module
 */
import { pathToFileURL } from 'node:url'
import pg from 'pg'
import { migrate } from '../src/db/migrate.js'
import { createPool, createPrisma } from '../src/db/connection.js'
import { REVOKE_BY_KID_SQL, revokeFamiliesSignedBy } from '../src/storage/prisma/refresh_tokens.js'
import { createDatabase } from './database.js'

const KID = 'bench-compromised'

/**
 * Bulk-inserts the history with one INSERT … SELECT generate_series per kind of row, then the live
 * families (each: two consumed ancestors and one live token), then VACUUM ANALYZE (what autovacuum
 * does after a bulk load: since PostgreSQL 13 inserts trigger it too).
 */
export async function seedHistory (client: pg.Client, options: { history: number, liveFamilies: number }): Promise<{ kid: string, liveFamilies: number }> {
  await client.query(`
    INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, created_at, consumed_at, revoked_at)
    SELECT 'h-' || g, 'hf-' || (g / 10), NULL, 'bench-client', 'read', '{}', $2,
           NULL,
           CASE WHEN g % 10 = 9 THEN now() - interval '1 hour' ELSE now() + interval '20 hours' END,
           now() - interval '4 hours' + g * interval '1 millisecond',
           CASE WHEN g % 10 < 8 THEN now() - interval '2 hours' END,
           CASE WHEN g % 10 = 8 THEN now() - interval '2 hours' END
    FROM generate_series(1, $1::int) AS g`, [options.history, KID])
  await client.query(`
    INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at, consumed_at)
    SELECT 'l-' || f || '-' || step, 'lf-' || f, 'bench-client', 'read', $2,
           now() + interval '1 day', CASE WHEN step < 2 THEN now() - interval '1 minute' END
    FROM generate_series(1, $1::int) AS f, generate_series(0, 2) AS step`, [options.liveFamilies, KID])
  // Live families on another key: the revocation must leave them alone.
  await client.query(`
    INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at)
    SELECT 'o-' || f, 'of-' || f, 'bench-client', 'read', 'bench-other', now() + interval '1 day'
    FROM generate_series(1, 100) AS f`)
  await client.query('VACUUM ANALYZE refresh_tokens')
  return { kid: KID, liveFamilies: options.liveFamilies }
}

/** EXPLAIN of the statement `revokeFamiliesSignedBy` runs (no ANALYZE: nothing is changed). */
export async function revokeFamiliesSignedByPlan (client: pg.Client, kid: string): Promise<string> {
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${REVOKE_BY_KID_SQL}`, [kid, new Date()])
  return rows.map((r) => r['QUERY PLAN']).join('\n')
}

async function main (): Promise<void> {
  const history = Number(process.argv[2] ?? 1_000_000)
  const database = await createDatabase()
  try {
    await migrate(database.url)
    const client = new pg.Client({ connectionString: database.url })
    await client.connect()
    let started = performance.now()
    const { kid, liveFamilies } = await seedHistory(client, { history, liveFamilies: 200 })
    process.stdout.write(`seeded ${history} historical rows + ${liveFamilies} live families in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
    process.stdout.write(`${await revokeFamiliesSignedByPlan(client, kid)}\n`)
    await client.end()
    const pool = createPool({ url: database.url, poolMax: 1 })
    const prisma = createPrisma({ url: database.url, poolMax: 1 }, pool)
    await prisma.$queryRawUnsafe('SELECT 1') // connect first: the figure is the statement's
    started = performance.now()
    const revoked = await revokeFamiliesSignedBy(prisma, kid, new Date())
    const ms = performance.now() - started
    process.stdout.write(`revokeFamiliesSignedBy: ${revoked} families revoked in ${ms.toFixed(1)} ms over ${history} historical rows\n`)
    await prisma.$disconnect()
    await pool.end()
  } finally {
    await database.drop()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => { console.error(err); process.exitCode = 1 })
}
