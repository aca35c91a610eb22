/**
 * Retention on PostgreSQL: batched deletes of dead rows, one instance at a time.
 *
 * Every batch is one short statement, `DELETE … WHERE ctid = ANY (ARRAY(SELECT ctid … LIMIT n))`:
 * the inner SELECT walks one of the indexes made for it (refresh tokens by key and expiry, by
 * revocation, successors by creation; the expiry and end indexes of sessions, codes and requests;
 * the audit trail's `created_at`), so a batch costs its n rows, never a scan of the table; and
 * `ctid = ANY` with an array is a TID scan. A row changed by a concurrent statement between the
 * SELECT and the DELETE has a new ctid and is skipped, not deleted in a state the SELECT did not check.
 *
 * No refresh-token index names `consumed_at` (the refresh grant's UPDATE stays HOT, see
 * schema.prisma), so consumed tokens are found through their successors: a successor is inserted
 * by the statement that consumes its parent and names it (`parent_jti`), so successors created
 * before the cutoff name exactly the tokens consumed before it. The walk over successors keeps a
 * cursor (their `created_at`) for the life of the store: each successor is read about once.
 *
 * The lock is a session-level `pg_try_advisory_lock` on one pooled connection that also runs the
 * batches; if the process dies, PostgreSQL ends the session and the lock with it. Cutoffs come
 * from PostgreSQL's clock, so a host whose clock jumped ahead cannot delete rows early.
 *
 * @module
 */
import type pg from 'pg'
import type { PurgeBatch, PurgeCutoffs, PurgeKind, RetentionStore } from '../types.js'

/** Advisory lock key of the purge runner ("STPG"; distinct from the key and migration locks). */
const PURGE_LOCK = 0x5354_5047

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>

const deleteByCtid = (table: string, select: string) =>
  `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(${select}))`

/** Live = what the refresh grant would still accept: a row naming the session must keep it. */
const NO_LIVE_TOKEN_OF_SESSION = `NOT EXISTS (
  SELECT 1 FROM refresh_tokens t
  WHERE t.session_id = s.id AND t.consumed_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > $3)`

interface SimpleKind { sql: string, params: (c: PurgeCutoffs) => unknown[] }

/**
 * The distinct signing keys of refresh tokens, one index probe each (a loose scan of
 * refresh_tokens_kid_expires_at_idx): a handful of keys, however many rows.
 */
const TOKEN_KIDS = `ARRAY(
  WITH RECURSIVE kids (kid) AS (
    (SELECT kid FROM refresh_tokens ORDER BY kid LIMIT 1)
    UNION ALL
    SELECT (SELECT t.kid FROM refresh_tokens t WHERE t.kid > kids.kid ORDER BY t.kid LIMIT 1) FROM kids WHERE kids.kid IS NOT NULL)
  SELECT kid FROM kids WHERE kid IS NOT NULL)`

const SIMPLE: Partial<Record<PurgeKind, SimpleKind>> = {
  // Expired past the margin, whatever their state: abandoned families, and consumed or revoked
  // tokens that expired first (refresh_tokens_kid_expires_at_idx, per key).
  refresh_tokens_expired: {
    sql: deleteByCtid('refresh_tokens', `SELECT ctid FROM refresh_tokens
      WHERE kid = ANY (${TOKEN_KIDS}) AND expires_at < $1 LIMIT $2`),
    params: (c) => [c.dead],
  },
  refresh_tokens_revoked: {
    sql: deleteByCtid('refresh_tokens', 'SELECT ctid FROM refresh_tokens WHERE revoked_at < $1 LIMIT $2'),
    params: (c) => [c.dead],
  },
  authorization_codes: {
    sql: deleteByCtid('authorization_codes', 'SELECT ctid FROM authorization_codes WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.dead],
  },
  // A parked request is useless once expired (`find` ignores it already): no margin.
  authorization_requests: {
    sql: deleteByCtid('authorization_requests', 'SELECT ctid FROM authorization_requests WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.now],
  },
  // RFC 9126 §2.2: a request_uri past expires_in is refused by `consume` already: no margin.
  pushed_authorization_requests: {
    sql: deleteByCtid('pushed_authorization_requests', 'SELECT ctid FROM pushed_authorization_requests WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.now],
  },
  // A replay of an expired JWT fails on its `exp` already: no margin.
  used_jtis: {
    sql: deleteByCtid('used_jtis', 'SELECT ctid FROM used_jtis WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.now],
  },
  // RFC 8628: a device authorization is useless once expired; kept for the margin, like codes.
  device_authorizations: {
    sql: deleteByCtid('device_authorizations', 'SELECT ctid FROM device_authorizations WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.dead],
  },
  // A challenge is taken once, and refused once expired (`takeChallenge`): no margin.
  webauthn_challenges: {
    sql: deleteByCtid('webauthn_challenges', 'SELECT ctid FROM webauthn_challenges WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.now],
  },
  // Reset, verification and invitation links, consumed or not: kept past their expiry for the
  // margin and the per-address mail window (the mail limit counts rows by creation, and a link
  // is created before it expires, so expired before the cutoff means created before it too).
  account_tokens: {
    sql: deleteByCtid('account_tokens', 'SELECT ctid FROM account_tokens WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.accountTokens],
  },
  // An upstream `state` and a held link are refused once expired (`takeState`, `findPendingLink`): no margin.
  federation_states: {
    sql: deleteByCtid('federation_states', 'SELECT ctid FROM federation_states WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.now],
  },
  federation_pending_links: {
    sql: deleteByCtid('federation_pending_links', 'SELECT ctid FROM federation_pending_links WHERE expires_at < $1 LIMIT $2'),
    params: (c) => [c.now],
  },
  audit_events: {
    sql: deleteByCtid('audit_events', 'SELECT ctid FROM audit_events WHERE created_at < $1 LIMIT $2'),
    params: (c) => [c.audit],
  },
}

/**
 * Sessions are walked in (column, id) order with a cursor kept for the pass: a session that a live
 * refresh token still names (offline access outlives the browser session) stays, and the next
 * batch starts after it instead of reading it again.
 */
function sessionsWindow (column: 'ended_at' | 'expires_at'): string {
  return `
    WITH candidates AS (
      SELECT id, ${column} AS at FROM sessions
      WHERE ${column} < $1 AND (${column}, id) > ($4::timestamptz, $5::text)
      ORDER BY ${column}, id LIMIT $2
    ), gone AS (
      DELETE FROM sessions s USING candidates c
      WHERE s.id = c.id AND ${NO_LIVE_TOKEN_OF_SESSION}
      RETURNING s.id
    ), last AS (
      SELECT at, id FROM candidates ORDER BY at DESC, id DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM candidates)::int AS scanned,
           (SELECT at FROM last) AS last_at, (SELECT id FROM last) AS last_id`
}

const SESSION_COLUMNS = { sessions_ended: 'ended_at', sessions_expired: 'expires_at' } as const

/**
 * Rotated away (consumed before the cutoff): the parents of the next `limit` successors created
 * in [cursor, cutoff), oldest first (refresh_tokens_successor_created_at_idx). A replay of a
 * deleted token is still caught: the token names its family (`fid`). The successors at the
 * window's last instant are read again by the next batch (`>=`), so none is skipped.
 */
const CONSUMED_BY_SUCCESSORS = `
  WITH successors AS (
    SELECT parent_jti, created_at FROM refresh_tokens
    WHERE parent_jti IS NOT NULL AND created_at >= $2 AND created_at < $1
    ORDER BY created_at LIMIT $3
  ), gone AS (
    DELETE FROM refresh_tokens r USING successors s
    WHERE r.jti = s.parent_jti AND r.consumed_at IS NOT NULL
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM successors)::int AS scanned,
         (SELECT max(created_at) FROM successors) AS last_at`

/** Where the walk over successors has got to; starts at the oldest successor. */
interface SuccessorCursor { at: Date | null }

async function consumedBatch (db: Queryable, cursor: SuccessorCursor, cutoffs: PurgeCutoffs, limit: number): Promise<{ deleted: number, more: boolean }> {
  cursor.at ??= new Date(0)
  const { rows: [row] } = await db.query<{ deleted: number, scanned: number, last_at: Date | null }>(
    CONSUMED_BY_SUCCESSORS, [cutoffs.dead, cursor.at, limit])
  const full = row.scanned === limit
  if (row.last_at) {
    // A full window within one millisecond would read itself forever: step past it (its parents,
    // more than `limit` consumptions in one millisecond, then go when they expire).
    cursor.at = full && row.last_at.getTime() === cursor.at.getTime() ? new Date(row.last_at.getTime() + 1) : row.last_at
  }
  return { deleted: row.deleted, more: full }
}

function batchesOn (db: Queryable, successors: SuccessorCursor): PurgeBatch {
  // Per pass: where each session walk has got to.
  const cursors = new Map<PurgeKind, { at: Date, id: string }>()
  return async (kind, cutoffs, limit) => {
    if (kind === 'refresh_tokens_consumed') return consumedBatch(db, successors, cutoffs, limit)
    const simple = SIMPLE[kind]
    if (simple) {
      const result = await db.query(simple.sql, [...simple.params(cutoffs), limit])
      const deleted = result.rowCount ?? 0
      return { deleted, more: deleted === limit }
    }
    const column = SESSION_COLUMNS[kind as keyof typeof SESSION_COLUMNS]
    const cursor = cursors.get(kind) ?? { at: new Date(0), id: '' }
    const { rows: [row] } = await db.query<{ deleted: number, scanned: number, last_at: Date | null, last_id: string | null }>(
      sessionsWindow(column), [cutoffs.dead, limit, cutoffs.now, cursor.at, cursor.id])
    if (row.last_at && row.last_id !== null) cursors.set(kind, { at: row.last_at, id: row.last_id })
    return { deleted: row.deleted, more: row.scanned === limit }
  }
}

async function databaseNow (db: Queryable): Promise<Date> {
  const { rows: [row] } = await db.query<{ now: Date }>('SELECT now() AS now')
  return row.now
}

/**
 * `lock: false` for a one-connection pool (the embedded database, one process by its pid lock):
 * holding the only connection for a whole pass would stall every request behind it.
 */
export function prismaRetentionStore (pool: pg.Pool, options: { lock: boolean }): RetentionStore {
  const successors: SuccessorCursor = { at: null }
  return {
    async exclusive (pass) {
      if (!options.lock) return pass(batchesOn(pool, successors), await databaseNow(pool))
      const client = await pool.connect()
      let healthy = false
      try {
        const { rows: [{ locked }] } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PURGE_LOCK])
        if (!locked) {
          healthy = true
          return undefined
        }
        const result = await pass(batchesOn(client, successors), await databaseNow(client))
        await client.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK])
        healthy = true
        return result
      } finally {
        // After a failure the connection is closed rather than returned: that ends the session,
        // and with it a lock the unlock above may not have released.
        client.release(!healthy)
      }
    },
  }
}

/** {@link RefreshTokenStore.revokeLiveFamily}: one statement, so "live" and "revoke" see the same rows. */
export async function revokeLiveFamily (pool: pg.Pool, familyId: string, now: Date): Promise<number> {
  const result = await pool.query(`
    UPDATE refresh_tokens SET revoked_at = $2
    WHERE family_id = $1 AND revoked_at IS NULL
      AND EXISTS (SELECT 1 FROM refresh_tokens
                  WHERE family_id = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2)`, [familyId, now])
  return result.rowCount ?? 0
}
