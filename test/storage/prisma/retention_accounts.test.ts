/**
 * Retention of the account and federation tables: WebAuthn challenges, mailed links
 * (account_tokens), upstream round trips (federation_states) and held links
 * (federation_pending_links) go once expired; a mailed link stays while the per-address mail
 * limit still counts it.
 *
 * @module
 */
import t, { type Test } from 'tap'
import pg from 'pg'
import { createTestDatabase, testPool } from '../../helper.js'
import { prismaRetentionStore } from '../../../src/storage/prisma/retention.js'
import { Retention } from '../../../src/domain/retention.js'
import { AuditLog } from '../../../src/domain/audit.js'
import { prismaAuditStore } from '../../../src/storage/prisma/audit.js'
import { createPrisma } from '../../../src/db/connection.js'
import { defaults, type Policy } from '../../../src/config/defaults.js'

const quiet = { info () {}, warn () {}, error () {}, debug () {} }
const MINUTE = 60_000
const HOUR = 60 * MINUTE

async function setup (t: Test) {
  const url = await createTestDatabase(t)
  const pool = testPool(url, 2)
  const prisma = createPrisma({ url, poolMax: 2 }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const audit = new AuditLog(prismaAuditStore(prisma, pool), quiet)
  const runner = (policy: Partial<Policy['purge']> = {}, mailWindow: number = defaults.accounts.mailWindow) => new Retention({
    store: prismaRetentionStore(pool, { lock: true }), policy: { ...defaults.purge, ...policy }, mailWindow, audit, log: quiet,
  })
  return { pool, runner }
}

const ids = async (pool: pg.Pool, sql: string) => (await pool.query<{ id: string }>(sql)).rows.map((r) => r.id).sort()
const at = (ms: number) => new Date(Date.now() + ms)

async function seed (pool: pg.Pool) {
  const challenge = (id: string, expires: Date) => pool.query(
    `INSERT INTO webauthn_challenges (id, browser_hash, challenge, purpose, expires_at) VALUES ($1, 'b', 'c', 'authenticate', $2)`, [id, expires])
  await challenge('ch-expired', at(-1000))
  await challenge('ch-live', at(5 * MINUTE))
  const link = (id: string, created: Date, expires: Date, consumed: Date | null = null) => pool.query(
    `INSERT INTO account_tokens (id, token_hash, purpose, user_id, email, created_at, expires_at, consumed_at)
     VALUES ($1, $1, 'reset_password', gen_random_uuid(), 'a@example.test', $2, $3, $4)`, [id, created, expires, consumed])
  await link('link-old', at(-3 * HOUR), at(-3 * HOUR + 30 * MINUTE))
  await link('link-consumed-old', at(-3 * HOUR), at(-3 * HOUR + 30 * MINUTE), at(-3 * HOUR + MINUTE))
  await link('link-expired-recent', at(-40 * MINUTE), at(-10 * MINUTE)) // still counted by the mail limit
  await link('link-live', at(-MINUTE), at(29 * MINUTE))
  const state = (hash: string, expires: Date) => pool.query(
    `INSERT INTO federation_states (state_hash, purpose, browser_hash, provider_id, expires_at) VALUES ($1, 'login', 'b', gen_random_uuid(), $2)`, [hash, expires])
  await state('state-expired', at(-1000))
  await state('state-live', at(5 * MINUTE))
  const pending = (id: string, expires: Date) => pool.query(
    `INSERT INTO federation_pending_links (id, browser_hash, request_id, provider_id, subject, user_id, expires_at)
     VALUES ($1, 'b', 'r', gen_random_uuid(), 'sub', gen_random_uuid(), $2)`, [id, expires])
  await pending('pending-expired', at(-1000))
  await pending('pending-live', at(5 * MINUTE))
}

t.test('expired challenges, links, federation states and pending links go; live ones stay', async (t) => {
  const { pool, runner } = await setup(t)
  await seed(pool)
  const report = await runner().runOnce()
  t.match(report?.removed, { webauthn_challenges: 1, account_tokens: 2, federation_states: 1, federation_pending_links: 1 })
  t.equal(report?.complete, true)
  t.same(await ids(pool, 'SELECT id FROM webauthn_challenges'), ['ch-live'])
  t.same(await ids(pool, 'SELECT id FROM account_tokens'), ['link-expired-recent', 'link-live'])
  t.same(await ids(pool, 'SELECT state_hash AS id FROM federation_states'), ['state-live'])
  t.same(await ids(pool, 'SELECT id FROM federation_pending_links'), ['pending-live'])
  const [event] = (await pool.query(`SELECT detail FROM audit_events WHERE type = 'retention_purged'`)).rows
  t.match(event, { detail: { removed: { webauthn_challenges: 1, account_tokens: 2 } } }, 'the pass is audited')
})

t.test('a mailed link stays while the per-address mail window counts it, whatever the margin', async (t) => {
  const { pool, runner } = await setup(t)
  await seed(pool)
  // Margin 60 s: the recent link expired ten minutes ago, but it was created 40 minutes ago and the
  // mail limit counts links created within the last hour: deleting it would let a fourth mail through.
  const kept = await runner({ margin: 60 }, 3600).runOnce()
  t.equal(kept?.removed.account_tokens, 2)
  t.same(await ids(pool, 'SELECT id FROM account_tokens'), ['link-expired-recent', 'link-live'])
  // A shorter window lets the margin decide.
  const short = await runner({ margin: 60 }, 300).runOnce()
  t.equal(short?.removed.account_tokens, 1)
  t.same(await ids(pool, 'SELECT id FROM account_tokens'), ['link-live'])
})

t.test('bounded: a backlog of expired challenges goes in batches over passes', async (t) => {
  const { pool, runner } = await setup(t)
  await pool.query(`INSERT INTO webauthn_challenges (id, browser_hash, challenge, purpose, expires_at)
                    SELECT 'c' || g, 'b', 'c', 'authenticate', now() - interval '1 minute' FROM generate_series(1, 50) g`)
  const limited = runner({ batchSize: 10, maxBatches: 3 })
  let removed = 0
  for (let pass = 0; pass < 30 && removed < 50; pass++) {
    const report = await limited.runOnce()
    t.ok(report!.batches <= 3)
    removed += report!.removed.webauthn_challenges
  }
  t.equal(removed, 50, 'the backlog is worked off over passes')
  t.equal((await pool.query('SELECT count(*)::int AS n FROM webauthn_challenges')).rows[0].n, 0)
})
