/**
 * Refresh-token repository on Prisma: one-time use enforced by the database, not by the caller.
 *
 * @module
 */
import type pg from 'pg'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'
import type { RefreshExchange, RefreshExchangeResult, RefreshFamily, RefreshPresented, RefreshTokenStore } from '../types.js'
import { revokeLiveFamily } from './retention.js'
import { useRefreshToken } from './refresh_use.js'
import { epoch, readTarget, type TargetRow } from './refresh_rows.js'

interface FamilyRow {
  family_id: string
  user_id: string | null
  client_id: string
  scope: string
  created_at: Date
  last_used_at: Date
  expires_at: Date
  active: boolean
  revoked_at: Date | null
}

interface ExchangeRow extends TargetRow {
  new_scope: string | null
  new_expires_epoch: number | null
  rotated: boolean
}

/**
 * The refresh grant in one statement, so one round trip and one commit. `target` reads the token
 * by primary key with what decides whether it may still be used: its user's, client's and browser
 * session's state,
 * the family's scope as the client ($2's record), the user (their scopes, or the baseline $9) and,
 * for a third-party client, the user's consent allow it now (`granted_scope`, in the family's
 * order), the family's end (family start + $8 seconds), and the successor an earlier consumption
 * issued. Only when the token is live, was issued to $2, covers the requested resources ($7), its
 * user and client are active, its session (if any) has not ended, something of its scope is left
 * and the family has not ended,
 * `consumed` consumes it (recording its successor $4) and `successor` inserts $4 with the narrowed
 * scope and an expiry capped at the family's end, naming its parent; family, user, client,
 * audience, session and family start are inherited.
 *
 * Kept cheap, as it runs for every refresh: `consumed` updates the row `target` read by its ctid
 * (no second index descent); it changes no indexed column, so the update is HOT (schema.prisma);
 * the narrowing builds a new scope string only when some scope was taken away (the common case is
 * one `<@` per source); the consent is read only for a third-party client; timestamps travel as
 * epoch seconds.
 *
 * The session row is locked FOR KEY SHARE until the commit: ending a session locks it FOR UPDATE
 * (prismaSessionStore.end), so a logout waits for a rotation in flight and then revokes its
 * successor too, and a rotation that starts during a logout waits for it and sees the session ended.
 * Both take the session before the token rows, so they cannot deadlock.
 *
 * Atomic like a transaction: a concurrent UPDATE of the same row waits for ours and then re-checks
 * its WHERE clause against the new row version, so exactly one caller consumes. `target` is read
 * from the statement's snapshot: when `rotated` is false and it shows a live token, the token was
 * consumed or revoked concurrently, and running the statement again reads the committed state.
 */
const EXCHANGE_SQL = `
  WITH target AS (
    SELECT t.ctid AS row_id, t.jti, t.family_id, t.user_id, t.client_id, t.scope, t.audience, t.kid, t.session_id,
           t.expires_at, t.created_at, t.consumed_at, t.revoked_at, t.family_created_at, t.successor_jti,
           t.auth_time, t.acr, t.amr,
           (t.user_id IS NULL OR (u.id IS NOT NULL AND NOT u.disabled)) AS user_active,
           (c.client_id IS NOT NULL AND NOT c.disabled) AS client_active,
           (t.session_id IS NULL OR COALESCE(
             (SELECT s.ended_at IS NULL FROM sessions s WHERE s.id = t.session_id FOR KEY SHARE), false)) AS session_active,
           date_trunc('second', t.family_created_at) + $8::int * interval '1 second' AS family_ends_at,
           CASE WHEN string_to_array(t.scope, ' ') <@ c.scopes
                 AND (t.user_id IS NULL OR string_to_array(t.scope, ' ') <@ ($9::text[] || u.scopes))
                 AND (t.user_id IS NULL OR c.first_party OR string_to_array(t.scope, ' ') <@
                      (SELECT k.scopes FROM consents k WHERE k.user_id = t.user_id AND k.client_id = t.client_id))
             THEN t.scope
             ELSE array_to_string(ARRAY(
               SELECT g.s FROM unnest(string_to_array(t.scope, ' ')) WITH ORDINALITY AS g(s, i)
               WHERE g.s = ANY (c.scopes)
                 AND (t.user_id IS NULL OR g.s = ANY ($9::text[]) OR g.s = ANY (u.scopes))
                 AND (t.user_id IS NULL OR c.first_party OR ARRAY[g.s] <@
                      (SELECT k.scopes FROM consents k WHERE k.user_id = t.user_id AND k.client_id = t.client_id))
               ORDER BY g.i), ' ')
           END AS granted_scope
    FROM refresh_tokens t
    LEFT JOIN users u ON u.id = t.user_id
    LEFT JOIN clients c ON c.client_id = t.client_id
    WHERE t.jti = $1
  ), consumed AS (
    UPDATE refresh_tokens r SET consumed_at = $3, successor_jti = $4
    FROM target
    WHERE r.ctid = target.row_id AND r.jti = $1 AND target.client_id = $2 AND target.user_active AND target.client_active AND target.session_active
      AND (target.granted_scope <> '' OR target.scope = '') AND target.family_ends_at > $3
      AND ($7::text[] IS NULL OR target.audience @> $7::text[])
      AND r.consumed_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $3
    RETURNING r.jti, r.family_id, r.user_id, r.client_id, r.audience, r.session_id, r.family_created_at, r.auth_time, r.acr, r.amr,
              target.granted_scope, target.family_ends_at
  ), successor AS (
    INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, family_created_at, parent_jti, auth_time, acr, amr)
    SELECT $4, family_id, user_id, client_id, granted_scope, audience, $5, session_id, LEAST($6, family_ends_at), family_created_at, jti, auth_time, acr, amr
    FROM consumed
    RETURNING scope, expires_at
  )
  SELECT target.jti, target.family_id, target.user_id::text AS user_id, target.client_id, target.scope, target.audience, target.kid, target.session_id,
         extract(epoch FROM target.expires_at)::float8 AS expires_epoch, extract(epoch FROM target.created_at)::float8 AS created_epoch,
         extract(epoch FROM target.consumed_at)::float8 AS consumed_epoch, extract(epoch FROM target.revoked_at)::float8 AS revoked_epoch,
         extract(epoch FROM target.auth_time)::float8 AS auth_epoch, target.acr, target.amr,
         target.user_active, target.client_active, target.session_active, target.granted_scope, target.family_ends_at <= $3 AS family_ended,
         target.successor_jti, n.kid AS successor_kid, n.scope AS successor_scope,
         extract(epoch FROM n.expires_at)::float8 AS successor_expires_epoch,
         (n.consumed_at IS NULL AND n.revoked_at IS NULL AND n.expires_at > $3) AS successor_live,
         s.scope AS new_scope, extract(epoch FROM s.expires_at)::float8 AS new_expires_epoch, (s.scope IS NOT NULL) AS rotated
  FROM target LEFT JOIN successor s ON TRUE LEFT JOIN refresh_tokens n ON n.jti = target.successor_jti`

/**
 * The common refresh, tried first: the token is live, issued to $2, its user and client are
 * active, its session (if any) has not ended (FOR KEY SHARE, as below), the family has not ended,
 * the audience covers $7, and its whole scope is still held by the client, the user and (for a
 * third-party client) the consent. Then it is consumed and its successor inserted, in one
 * statement with the parameters of {@link EXCHANGE_SQL} and what the presented token's signed
 * claims say: $10 its scope and $11 its user. The statement checks both against the row, so a
 * claim can only make it refuse (no row). Neither is a column an index leads with (the user's is
 * compared as text), so the plan stays on the primary key: the family's index would read every
 * row of the family (test/storage/prisma/retention.test.ts checks the plan).
 *
 * Why two statements: PostgreSQL initialises every node of a cached plan on each execution, also
 * the subplans that do not run (the narrowing, the consent subselects, the snapshot of the token
 * for the caller), and that start-up was most of the refresh grant's database cost
 * (docs/perf/refresh_statement.md: 692k instructions per refresh against 380k at 52cca59). Anything
 * else (reuse, a retry, a revoked or expired token, a privilege taken away, narrowing, a token
 * without a user, a claim that does not match) returns no row, and EXCHANGE_SQL then decides,
 * reading committed state: two round trips on those rare paths only.
 *
 * Kept to what start-up must build: the checks sit on the updated row itself (no second read of
 * the token by ctid), the client, user, consent and session are plain joins or none, so no
 * subplan is built unless the token has a session (`session`, from its `sid` claim: only such a
 * token needs the session row and its lock), and the caller gets back only what its claims do not
 * say (the family, the audience, the login's facts, the session when it has one, and the expiry
 * only when the family's end capped it).
 * Without `consent`, for a client the caller knows as first-party (they ask no consent): a join
 * that cannot match still costs each refresh. `c.first_party` is read all the same: a client that
 * stopped being first-party gets no row, and EXCHANGE_SQL then applies its consent.
 */
function rotateSQL ({ consent, session }: { consent: boolean, session: boolean }): string {
  return `
  WITH consumed AS (
    UPDATE refresh_tokens r SET consumed_at = $3, successor_jti = $4
    FROM clients c, users u${consent ? ', consents k' : ''}
    WHERE r.jti = $1 AND r.client_id = $2 AND r.scope = $10 AND r.user_id::text = $11
      AND r.consumed_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $3
      AND c.client_id = $2 AND NOT c.disabled AND u.id = r.user_id AND NOT u.disabled
      AND ${session
        ? 'EXISTS (SELECT FROM sessions s WHERE s.id = r.session_id AND s.ended_at IS NULL FOR KEY SHARE)'
        : 'r.session_id IS NULL'}
      AND string_to_array(r.scope, ' ') <@ c.scopes
      AND string_to_array(r.scope, ' ') <@ ($9::text[] || u.scopes)
      AND ${consent
        ? "k.user_id = r.user_id AND k.client_id = $2 AND (c.first_party OR string_to_array(r.scope, ' ') <@ k.scopes)"
        : 'c.first_party'}
      AND date_trunc('second', r.family_created_at) + $8::int * interval '1 second' > $3
      AND ($7::text[] IS NULL OR r.audience @> $7::text[])
    RETURNING r.family_id, r.user_id, r.audience, r.session_id, r.family_created_at, r.auth_time, r.acr, r.amr,
              date_trunc('second', r.family_created_at) + $8::int * interval '1 second' AS family_ends_at
  )
  INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, family_created_at, parent_jti, auth_time, acr, amr)
  SELECT $4, family_id, user_id, $2, $10, audience, $5, session_id, LEAST($6, family_ends_at), family_created_at, $1, auth_time, acr, amr FROM consumed
  RETURNING family_id, audience,${session ? ' session_id,' : ''} extract(epoch FROM auth_time)::float8 AS auth_epoch, acr, amr,
            CASE WHEN expires_at < $6 THEN extract(epoch FROM expires_at)::float8 END AS capped_epoch`
}

/** Named: PostgreSQL parses and plans each once per connection. */
const ROTATE = {
  firstParty: { name: 'stamp_refresh_rotate_v2_first_party', text: rotateSQL({ consent: false, session: false }) },
  firstPartySession: { name: 'stamp_refresh_rotate_v2_first_party_session', text: rotateSQL({ consent: false, session: true }) },
  consent: { name: 'stamp_refresh_rotate_v2', text: rotateSQL({ consent: true, session: false }) },
  consentSession: { name: 'stamp_refresh_rotate_v2_session', text: rotateSQL({ consent: true, session: true }) },
}

interface RotateRow {
  family_id: string
  audience: string[] | null
  /** Only from the statement for a token with a session. */
  session_id?: string
  auth_epoch: number | null
  acr: string | null
  amr: string[] | null
  /** The successor's expiry when the family's end came before the requested one, else null. */
  capped_epoch: number | null
}

/**
 * {@link RefreshTokenStore.exchange} on `pool` (also run alone by the bench as the database's ceiling;
 * a test runs it on a client inside an open transaction).
 */
export async function exchangeRefreshToken (pool: Pick<pg.Pool, 'query'>, request: RefreshExchange): Promise<RefreshExchangeResult | null> {
  const { jti, clientId, resources, successor, now, familyMaxAge, userBaselineScopes, presented } = request
  const values = [jti, clientId, now, successor.jti, successor.kid, successor.expiresAt, resources ?? null, familyMaxAge, userBaselineScopes]
  if (presented) {
    const session = presented.sessionId !== undefined
    const rotate = request.firstParty
      ? (session ? ROTATE.firstPartySession : ROTATE.firstParty)
      : (session ? ROTATE.consentSession : ROTATE.consent)
    const rotation = (await pool.query<RotateRow>({ ...rotate, values: [...values, presented.scope, presented.subject] })).rows[0]
    if (rotation) return rotated(rotation, request, presented)
  }
  const { rows } = await pool.query<ExchangeRow>({ name: 'stamp_refresh_exchange_v6', text: EXCHANGE_SQL, values })
  const row = rows[0]
  if (!row) return null
  return {
    ...readTarget(row),
    rotated: row.rotated,
    issued: row.rotated ? { scope: row.new_scope!, expiresAt: epoch(row.new_expires_epoch!) } : null,
  }
}

/**
 * A {@link ROTATE} result as {@link RefreshExchangeResult}: everything it checks held, so the
 * token was live, unconsumed, its scope and user those its claims named, and its scope entirely
 * granted. The consumed token's own kid, expiry and creation time are not read (the
 * grant does not use them after a rotation).
 */
function rotated (row: RotateRow, { jti, clientId, now, successor }: RefreshExchange, presented: RefreshPresented): RefreshExchangeResult {
  const expiresAt = row.capped_epoch === null ? successor.expiresAt : epoch(row.capped_epoch)
  return {
    record: {
      jti,
      familyId: row.family_id,
      userId: presented.subject,
      clientId,
      scope: presented.scope,
      audience: row.audience ?? [],
      kid: '',
      sessionId: row.session_id ?? null,
      expiresAt,
      createdAt: now,
      consumedAt: null,
      revokedAt: null,
      userActive: true,
      authTime: row.auth_epoch === null ? null : epoch(row.auth_epoch),
      acr: row.acr,
      amr: row.amr ?? [],
    },
    clientActive: true,
    sessionActive: true,
    grantedScope: presented.scope,
    familyEnded: false,
    rotated: true,
    issued: { scope: presented.scope, expiresAt },
    successor: null,
  }
}

/** One row per family: its first and newest token, and whether any token is still usable. */
function familiesQuery (where: Prisma.Sql, now: Date, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT family_id,
           min(user_id::text) AS user_id,
           min(client_id) AS client_id,
           (array_agg(scope ORDER BY created_at ASC))[1] AS scope,
           min(created_at) AS created_at,
           max(created_at) AS last_used_at,
           max(expires_at) AS expires_at,
           bool_or(consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ${now}) AS active,
           max(revoked_at) AS revoked_at
    FROM refresh_tokens
    WHERE ${where}
    GROUP BY family_id
    ORDER BY family_id
    LIMIT ${limit}`
}

function toFamily (row: FamilyRow): RefreshFamily {
  return {
    familyId: row.family_id,
    userId: row.user_id,
    clientId: row.client_id,
    scope: row.scope,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    active: row.active,
    revokedAt: row.revoked_at,
  }
}

export function prismaRefreshTokenStore (prisma: PrismaClient, pool: pg.Pool): RefreshTokenStore {
  return {
    find: (jti) => prisma.refreshToken.findUnique({ where: { jti } }),

    exchange: (request) => exchangeRefreshToken(pool, request),

    use: (request) => useRefreshToken(pool, request),

    async create (token) {
      // Every login stores one: a named statement on pg (see createPool) instead of Prisma's create.
      await pool.query({
        name: 'stamp_refresh_create',
        text: `INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at, auth_time, acr, amr)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        values: [token.jti, token.familyId, token.userId, token.clientId, token.scope, token.audience, token.kid, token.sessionId, token.expiresAt, token.authTime, token.acr, token.amr],
      })
    },

    async revokeFamily (familyId, now) {
      const { count } = await prisma.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: now } })
      return count
    },

    async revokeByKid (kid, now) {
      return revokeFamiliesSignedBy(prisma, kid, now)
    },

    async listFamilies ({ userId, clientId }, { limit, cursor }, now) {
      const conditions: Prisma.Sql[] = []
      if (userId !== undefined) conditions.push(Prisma.sql`user_id = ${userId}::uuid`)
      if (clientId !== undefined) conditions.push(Prisma.sql`client_id = ${clientId}`)
      if (cursor !== undefined) conditions.push(Prisma.sql`family_id > ${cursor}`)
      if (!conditions.length) conditions.push(Prisma.sql`TRUE`)
      const rows = await prisma.$queryRaw<FamilyRow[]>(familiesQuery(Prisma.join(conditions, ' AND '), now, limit))
      return rows.map(toFamily)
    },

    async findFamily (familyId, now) {
      const [row] = await prisma.$queryRaw<FamilyRow[]>(familiesQuery(Prisma.sql`family_id = ${familyId}`, now, 1))
      return row ? toFamily(row) : null
    },

    async revokeUserFamilies (userId, now) {
      await prisma.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } })
      return countRevokedFamilies(prisma, { userId }, now)
    },

    async revokeFamilies ({ userId, clientId, scopes }, now) {
      // Live families only (a consumed or revoked row decides nothing); all their rows are revoked.
      const conditions: Prisma.Sql[] = [Prisma.sql`revoked_at IS NULL`, Prisma.sql`consumed_at IS NULL`]
      if (userId !== undefined) conditions.push(Prisma.sql`user_id = ${userId}::uuid`)
      if (clientId !== undefined) conditions.push(Prisma.sql`client_id = ${clientId}`)
      if (scopes !== undefined) conditions.push(Prisma.sql`string_to_array(scope, ' ') && ${scopes}::text[]`)
      const [row] = await prisma.$queryRaw<Array<{ families: number }>>`
        WITH hit AS (SELECT DISTINCT family_id FROM refresh_tokens WHERE ${Prisma.join(conditions, ' AND ')}),
             revoked AS (
               UPDATE refresh_tokens r SET revoked_at = ${now} FROM hit
               WHERE r.family_id = hit.family_id AND r.revoked_at IS NULL RETURNING 1)
        SELECT count(*)::int AS families FROM hit`
      return row?.families ?? 0
    },

    async revokeClientFamilies (clientId, now) {
      await prisma.refreshToken.updateMany({ where: { clientId, revokedAt: null }, data: { revokedAt: now } })
      return countRevokedFamilies(prisma, { clientId }, now)
    },

    revokeLiveFamily: (familyId, now) => revokeLiveFamily(pool, familyId, now),
  }
}

/** Families that the revocation at `now` touched (rows revoked at exactly that instant). */
async function countRevokedFamilies (prisma: PrismaClient, where: { userId?: string, clientId?: string }, now: Date): Promise<number> {
  const families = await prisma.refreshToken.groupBy({ by: ['familyId'], where: { ...where, revokedAt: now } })
  return families.length
}

type Tx = Pick<PrismaClient, '$queryRawUnsafe'>

/**
 * Key revocation's statement ($1 kid, $2 now): the live tokens signed with the key, found among its
 * unexpired tokens (`refresh_tokens_kid_expires_at_idx`), name the families to revoke; every
 * not-yet-revoked row of those families is revoked (through the family index; the family list is
 * an array computed first, so the plan does not hinge on how many rows the planner guesses the
 * live tokens are). Expired history is never read. Consumed and revoked tokens that have not
 * expired are read, not written: no index can tell them from live ones without naming consumed_at,
 * which would cost every refresh its HOT update (schema.prisma); retention keeps them to the
 * margin, and bench/revoke_scale.ts times the statement over a million of them.
 * A family whose live token a newer key signed is left alone: its consumed ancestors cannot be
 * used again (presenting one is reuse, which revokes the family), and the revoked key no longer
 * verifies anything.
 */
export const REVOKE_BY_KID_SQL = `
  WITH revoked AS (
    UPDATE refresh_tokens SET revoked_at = $2
    WHERE revoked_at IS NULL AND family_id = ANY (ARRAY(
      SELECT DISTINCT family_id FROM refresh_tokens
      WHERE kid = $1 AND expires_at > $2 AND consumed_at IS NULL AND revoked_at IS NULL))
    RETURNING family_id
  )
  SELECT count(DISTINCT family_id)::int AS families FROM revoked`

/** Revokes every live family whose live token was signed with `kid`; returns how many families. */
export async function revokeFamiliesSignedBy (db: Tx, kid: string, now: Date): Promise<number> {
  const [row] = await db.$queryRawUnsafe<Array<{ families: number }>>(REVOKE_BY_KID_SQL, kid, now)
  return row?.families ?? 0
}
