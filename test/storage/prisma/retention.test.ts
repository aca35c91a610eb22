/**
 * The retention store and runner on a real database: which rows each kind deletes and which it
 * keeps, the one-instance lock, the per-pass budget, and that no batch reads a table by
 * sequential scan.
 *
 * @module
 */
import t, { type Test } from 'tap'
import pg from 'pg'
import { createTestDatabase, testPool } from '../../helper.js'
import { prismaRetentionStore } from '../../../src/storage/prisma/retention.js'
import { exchangeRefreshToken } from '../../../src/storage/prisma/refresh_tokens.js'
import { Retention, type PurgeOutcome } from '../../../src/domain/retention.js'
import { AuditLog } from '../../../src/domain/audit.js'
import { prismaAuditStore } from '../../../src/storage/prisma/audit.js'
import { createPrisma } from '../../../src/db/connection.js'
import { defaults, type Policy } from '../../../src/config/defaults.js'
import { USER_BASELINE_SCOPES } from '../../../src/domain/scopes.js'

const quiet = { info () {}, warn () {}, error () {}, debug () {} }
const HOUR = 3_600_000

async function setup (t: Test) {
  const url = await createTestDatabase(t)
  const pool = testPool(url, 4)
  const prisma = createPrisma({ url, poolMax: 4 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const audit = new AuditLog(prismaAuditStore(prisma, pool), quiet)
  const runner = (policy: Partial<Policy['purge']> = {}, lock = true) => new Retention({
    store: prismaRetentionStore(pool, { lock }), policy: { ...defaults.purge, ...policy }, audit, log: quiet,
  })
  return { pool, runner }
}

const ids = async (pool: pg.Pool, sql: string) => (await pool.query<{ id: string }>(sql)).rows.map((r) => r.id).sort()

t.test('each kind of dead row goes past the margin; everything that may still matter stays', async (t) => {
  const { pool, runner } = await setup(t)
  const at = (ms: number) => new Date(Date.now() + ms)
  // Consumed tokens as the refresh statement leaves them: each has a successor naming it, created
  // when it was consumed (retention finds consumptions through successors).
  const token = (jti: string, family: string, expires: Date, consumed: Date | null, revoked: Date | null, session: string | null = null, parent: string | null = null, created = at(-3 * HOUR)) =>
    pool.query(`INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, session_id, expires_at, consumed_at, revoked_at, parent_jti, created_at)
                VALUES ($1, $2, 'c', 'read', 'k', $3, $4, $5, $6, $7, $8)`, [jti, family, session, expires, consumed, revoked, parent, created])
  await token('consumed-old', 'f1', at(HOUR), at(-2 * HOUR), null)
  await token('consumed-recent', 'f1', at(HOUR), at(-60_000), null, null, 'consumed-old', at(-2 * HOUR)) // within the margin: a retry may still need it
  await token('live', 'f1', at(HOUR), null, null, 's-offline', 'consumed-recent', at(-60_000))
  await token('expired-old', 'f2', at(-2 * HOUR), null, null)
  await token('expired-recent', 'f3', at(-60_000), null, null)
  await token('revoked-old', 'f4', at(HOUR), null, at(-2 * HOUR))
  await token('revoked-recent', 'f5', at(HOUR), null, at(-60_000))
  const session = (id: string, expires: Date, ended: Date | null) =>
    pool.query(`INSERT INTO sessions (id, token_hash, user_id, auth_time, expires_at, ended_at)
                VALUES ($1, $1, gen_random_uuid(), now(), $2, $3)`, [id, expires, ended])
  await session('s-live', at(HOUR), null)
  await session('s-ended-old', at(HOUR), at(-2 * HOUR))
  await session('s-ended-recent', at(HOUR), at(-60_000))
  await session('s-expired-old', at(-2 * HOUR), null)
  await session('s-offline', at(-2 * HOUR), null) // expired, but a live refresh token names it
  const code = (hash: string, expires: Date) =>
    pool.query(`INSERT INTO authorization_codes (code_hash, client_id, user_id, session_id, redirect_uri, scope, auth_time, family_id, expires_at)
                VALUES ($1, 'c', gen_random_uuid(), 's', 'https://a/cb', 'openid', now(), 'f', $2)`, [hash, expires])
  await code('code-old', at(-2 * HOUR))
  await code('code-recent', at(-60_000))
  const request = (id: string, expires: Date) =>
    pool.query(`INSERT INTO authorization_requests (id, browser_hash, client_id, redirect_uri, scope, expires_at)
                VALUES ($1, 'b', 'c', 'https://a/cb', 'openid', $2)`, [id, expires])
  await request('req-expired', at(-1000))
  await request('req-live', at(HOUR))
  const device = (id: string, expires: Date) =>
    pool.query(`INSERT INTO device_authorizations (id, device_code_hash, user_code_hash, client_id, scope, "interval", expires_at)
                VALUES ($1, $1, $1, 'c', 'openid', 5, $2)`, [id, expires])
  await device('device-old', at(-2 * HOUR))
  await device('device-recent', at(-60_000))
  await pool.query(`INSERT INTO audit_events (type, created_at) VALUES ('old', now() - interval '91 days'), ('new', now() - interval '89 days')`)
  await pool.query(`INSERT INTO used_jtis (namespace, jti, expires_at) VALUES ('n', 'jti-expired', now() - interval '1 second'), ('n', 'jti-live', now() + interval '1 minute')`)

  const report = await runner().runOnce()
  t.same(report?.removed, { refresh_tokens: 3, sessions: 2, authorization_codes: 1, authorization_requests: 1, pushed_authorization_requests: 0, used_jtis: 1, device_authorizations: 1, webauthn_challenges: 0, account_tokens: 0, federation_states: 0, federation_pending_links: 0, audit_events: 1 })
  t.same(await ids(pool, 'SELECT jti AS id FROM used_jtis'), ['jti-live'])
  t.equal(report?.complete, true)
  t.same(await ids(pool, 'SELECT jti AS id FROM refresh_tokens'), ['consumed-recent', 'expired-recent', 'live', 'revoked-recent'])
  t.same(await ids(pool, 'SELECT id FROM sessions'), ['s-ended-recent', 's-live', 's-offline'])
  t.same(await ids(pool, 'SELECT code_hash AS id FROM authorization_codes'), ['code-recent'])
  t.same(await ids(pool, 'SELECT id FROM authorization_requests'), ['req-live'])
  t.same(await ids(pool, 'SELECT id FROM device_authorizations'), ['device-recent'])
  t.same(await ids(pool, `SELECT type AS id FROM audit_events WHERE type <> 'retention_purged'`), ['new'])
  const [event] = (await pool.query(`SELECT actor, detail FROM audit_events WHERE type = 'retention_purged'`)).rows
  t.match(event, { actor: 'retention', detail: { removed: { refresh_tokens: 3, sessions: 2 }, complete: true } }, 'the pass is audited')

  await pool.query(`INSERT INTO audit_events (type, created_at) VALUES ('ancient', now() - interval '10 years')`)
  const keepAll = await runner({ auditRetention: 0 }).runOnce()
  t.equal(keepAll?.removed.audit_events, 0, 'AUDIT_RETENTION_DAYS=0 keeps every event')
})

t.test('bounded work: batches of batchSize, at most maxBatches per pass; the next pass continues', async (t) => {
  const { pool, runner } = await setup(t)
  // 250 families, each a token consumed two hours ago and its live successor.
  await pool.query(`INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at, consumed_at, created_at, parent_jti)
                    SELECT 'c' || g, 'f' || g, 'c', 'read', 'k', now() + interval '1 hour', now() - interval '2 hours', now() - interval '3 hours', NULL
                    FROM generate_series(1, 250) g
                    UNION ALL
                    SELECT 's' || g, 'f' || g, 'c', 'read', 'k', now() + interval '1 hour', NULL, now() - interval '2 hours' + g * interval '1 millisecond', 'c' || g
                    FROM generate_series(1, 250) g`)
  await pool.query(`INSERT INTO audit_events (type, created_at) SELECT 'old', now() - interval '100 days' FROM generate_series(1, 30)`)
  const limited = runner({ batchSize: 20, maxBatches: 5 })
  const first = await limited.runOnce()
  t.equal(first?.batches, 5)
  t.equal(first?.complete, false, 'stopped at its budget')
  let passes = 1
  const total = { ...first!.removed }
  // A budget smaller than one round of kinds never sees all of them in one pass, so it never
  // reports complete; successive passes still reach every kind.
  for (; passes < 40; passes++) {
    const report = await limited.runOnce()
    total.refresh_tokens += report!.removed.refresh_tokens
    total.audit_events += report!.removed.audit_events
  }
  t.equal(total.refresh_tokens, 250, 'the refresh backlog is gone after successive passes')
  t.equal(total.audit_events, 30, 'a budget smaller than one round still reaches every kind (no starvation)')
  t.equal((await runner({ batchSize: 20 }).runOnce())?.complete, true, 'a pass with room for every kind reports complete')
  const timed = runner({ timeBudget: 0.000001 })
  await pool.query(`INSERT INTO audit_events (type, created_at) SELECT 'old', now() - interval '100 days' FROM generate_series(1, 5)`)
  const report = await timed.runOnce()
  t.ok(report!.batches <= 1, 'the time budget bounds a pass too')
})

t.test('one instance purges at a time: a concurrent pass is skipped', async (t) => {
  const { pool, runner } = await setup(t)
  const holder = await pool.connect()
  await holder.query('SELECT pg_advisory_lock($1)', [0x5354_5047])
  const a = runner()
  const outcomes: PurgeOutcome['outcome'][] = []
  a.onPass((p) => outcomes.push(p.outcome))
  t.equal(await a.runOnce(), null, 'skipped while another session holds the purge lock')
  await holder.query('SELECT pg_advisory_unlock($1)', [0x5354_5047])
  holder.release()
  const [x, y] = await Promise.all([runner().runOnce(), runner().runOnce()])
  t.equal([x, y].filter((r) => r === null).length <= 1, true)
  t.ok(x !== null || y !== null, 'one of two concurrent passes ran')
  t.ok(await a.runOnce(), 'the lock was released after the pass')
  t.same(outcomes, ['skipped', 'complete'])
})

t.test('start/stop: passes are scheduled and stop cleanly', async (t) => {
  const { runner } = await setup(t)
  const r = runner({ interval: 0.05 })
  let passes = 0
  r.onPass(() => { passes++ })
  r.start()
  await new Promise((resolve) => setTimeout(resolve, 400))
  await r.stop()
  const after = passes
  t.ok(after >= 2, `scheduled passes ran (${after})`)
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(passes, after, 'no pass after stop')
})

const KINDS = [
  'refresh_tokens_expired', 'refresh_tokens_consumed', 'refresh_tokens_revoked', 'sessions_ended', 'sessions_expired',
  'authorization_codes', 'authorization_requests', 'pushed_authorization_requests', 'used_jtis', 'device_authorizations',
  'webauthn_challenges', 'account_tokens', 'federation_states', 'federation_pending_links', 'audit_events',
] as const

t.test('no batch statement reads a table by sequential scan', async (t) => {
  const { pool } = await setup(t)
  await pool.query(`INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at, consumed_at, revoked_at, parent_jti)
                    SELECT 't' || g, 'f' || (g / 10), 'c', 'read', 'k' || (g % 3), now() + interval '1 hour',
                           CASE WHEN g % 3 = 0 THEN now() END, CASE WHEN g % 7 = 0 THEN now() END, CASE WHEN g % 10 > 0 THEN 't' || (g - 1) END
                    FROM generate_series(1, 50000) g`)
  await pool.query(`INSERT INTO sessions (id, token_hash, user_id, auth_time, expires_at, ended_at)
                    SELECT 's' || g, 's' || g, gen_random_uuid(), now(), now() + interval '1 hour', CASE WHEN g % 2 = 0 THEN now() END
                    FROM generate_series(1, 20000) g`)
  await pool.query(`INSERT INTO audit_events (type) SELECT 't' FROM generate_series(1, 20000)`)
  await pool.query('ANALYZE')
  // Capture the statements the store runs, then EXPLAIN each with the same parameters.
  const seen: Array<{ text: string, values: unknown[] }> = []
  const spy = { query: async (text: string, values: unknown[]) => { seen.push({ text, values }); return pool.query(text, values) } }
  const store = prismaRetentionStore(spy as unknown as pg.Pool, { lock: false })
  const now = new Date()
  await store.exclusive(async (batch, dbNow) => {
    t.ok(Math.abs(dbNow.getTime() - now.getTime()) < 60_000, 'the pass gets the database clock')
    for (const kind of KINDS) {
      await batch(kind, { now, dead: new Date(now.getTime() - HOUR), accountTokens: new Date(now.getTime() - HOUR), audit: new Date(now.getTime() - HOUR) }, 1000)
    }
  })
  t.equal(seen.length, KINDS.length + 1, 'the clock, then one statement per kind')
  seen.shift()
  for (const { text, values } of seen) {
    const plan = (await pool.query(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n')
    t.notMatch(plan, /Seq Scan on (refresh_tokens|sessions|audit_events)/, plan)
  }
})

t.test('the refresh grant finds its token by primary key, even with stale statistics', async (t) => {
  const { pool } = await setup(t)
  // No ANALYZE: the indexes were built on an empty table, as after a fresh migration.
  // The refresh statement checks the token's client (it must exist, enabled, holding the scope).
  await pool.query(`INSERT INTO clients (client_id, name, grant_types, scopes, updated_at) VALUES ('c', 'c', ARRAY['refresh_token'], ARRAY['read'], now())`)
  await pool.query(`INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at, consumed_at)
                    SELECT 't' || g, 'f' || g, 'c', 'read', 'k', now() + interval '1 day', CASE WHEN g % 2 = 0 THEN now() END
                    FROM generate_series(1, 20000) g`)
  const seen: Array<{ text: string, values: unknown[] }> = []
  const spy = { query: async (q: { text: string, values: unknown[] }) => { seen.push(q); return pool.query(q.text, q.values) } }
  const result = await exchangeRefreshToken(spy as unknown as pg.Pool, {
    jti: 't1', clientId: 'c', successor: { jti: 'next', kid: 'k', expiresAt: new Date(Date.now() + HOUR) }, now: new Date(),
    familyMaxAge: 30 * 86_400, userBaselineScopes: USER_BASELINE_SCOPES, presented: { scope: 'read', subject: '' },
  })
  t.equal(result?.rotated, true)
  // A token without a user: the statement tried first finds no row, the full one rotates it. Both by primary key.
  t.equal(seen.length, 2)
  const client = await pool.connect()
  try {
    await client.query('SET plan_cache_mode = force_generic_plan')
    for (const { text, values } of seen) {
      const plan = (await client.query(`EXPLAIN ${text}`, ['t3', 'c', new Date(), 'next2', 'k', new Date(Date.now() + HOUR), ...values.slice(6)])).rows.map((r) => r['QUERY PLAN']).join('\n')
      t.notMatch(plan, /refresh_tokens_(kid_expires_at|successor_created_at|revoked_at|family_id|user_id|client_id|session_id)_idx/, plan)
      t.match(plan, /refresh_tokens_pkey/)
    }
  } finally {
    await client.query('RESET plan_cache_mode')
    client.release()
  }
})
