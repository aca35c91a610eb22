/**
 * Refresh-token repository on Prisma: one-time use enforced by the database, not by the caller.
 *
 * @module
 */
import type pg from 'pg'
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js'
import type { RefreshExchange, RefreshFamily, RefreshTokenRecord, RefreshTokenStore } from '../types.js'
import { revokeLiveFamily } from './retention.js'

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

interface TokenRow {
  jti: string
  family_id: string
  user_id: string | null
  client_id: string
  scope: string
  audience: string[] | null
  kid: string
  session_id: string | null
  expires_at: Date
  created_at: Date
  consumed_at: Date | null
  revoked_at: Date | null
  user_active: boolean
}

function toRecord (row: TokenRow): RefreshTokenRecord & { userActive: boolean } {
  return {
    jti: row.jti,
    familyId: row.family_id,
    userId: row.user_id,
    clientId: row.client_id,
    scope: row.scope,
    audience: row.audience ?? [],
    kid: row.kid,
    sessionId: row.session_id,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    consumedAt: row.consumed_at,
    revokedAt: row.revoked_at,
    userActive: row.user_active,
  }
}

/**
 * The refresh grant in one statement, so one round trip and one commit: read the token with its
 * user's state and, only when it is live, was issued to $2, covers the requested resources ($7)
 * and its user may still sign in, consume it and insert its successor. The successor inherits
 * family, user, client, scope, audience and session from the consumed row.
 *
 * Atomic like the transaction in `rotate`: a concurrent UPDATE of the same row waits for ours and
 * then re-checks its WHERE clause against the new row version, so exactly one caller consumes.
 * `target` is read from the statement's snapshot: when `rotated` is false it may be stale, and
 * the caller asks `rotate` (which reads under the row lock) to tell reuse from a grace retry.
 */
const EXCHANGE_SQL = `
  WITH target AS (
    SELECT t.jti, t.family_id, t.user_id::text AS user_id, t.client_id, t.scope, t.audience, t.kid, t.session_id,
           t.expires_at, t.created_at, t.consumed_at, t.revoked_at,
           (t.user_id IS NULL OR (u.id IS NOT NULL AND NOT u.disabled)) AS user_active
    FROM refresh_tokens t LEFT JOIN users u ON u.id = t.user_id
    WHERE t.jti = $1
  ), consumed AS (
    UPDATE refresh_tokens r SET consumed_at = $3
    FROM target
    WHERE r.jti = target.jti AND target.user_active AND r.client_id = $2
      AND ($7::text[] IS NULL OR r.audience @> $7::text[])
      AND r.consumed_at IS NULL AND r.revoked_at IS NULL AND r.expires_at > $3
    RETURNING r.family_id, r.user_id, r.client_id, r.scope, r.audience, r.session_id
  ), successor AS (
    INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at)
    SELECT $4, family_id, user_id, client_id, scope, audience, $5, session_id, $6 FROM consumed
    RETURNING jti
  )
  SELECT target.*, EXISTS (SELECT 1 FROM successor) AS rotated FROM target`

/** {@link RefreshTokenStore.exchange} on `pool` (also run alone by the bench as the database's ceiling). */
export async function exchangeRefreshToken (pool: pg.Pool, { jti, clientId, resources, successor, now }: RefreshExchange):
Promise<{ record: RefreshTokenRecord & { userActive: boolean }, rotated: boolean } | null> {
  const { rows } = await pool.query<TokenRow & { rotated: boolean }>({
    // Named: PostgreSQL parses and plans it once per connection.
    name: 'stamp_refresh_exchange',
    text: EXCHANGE_SQL,
    values: [jti, clientId, now, successor.jti, successor.kid, successor.expiresAt, resources ?? null],
  })
  const row = rows[0]
  return row ? { record: toRecord(row), rotated: row.rotated } : null
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

    async create (token) {
      // Every login stores one: a named statement on pg (see createPool) instead of Prisma's create.
      await pool.query({
        name: 'stamp_refresh_create',
        text: `INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, session_id, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        values: [token.jti, token.familyId, token.userId, token.clientId, token.scope, token.audience, token.kid, token.sessionId, token.expiresAt],
      })
    },

    async rotate (jti, successor, now, graceSeconds) {
      // The refresh grant comes here only when `exchange` did not rotate (consumed, revoked,
      // expired, or lost a race): this transaction tells those apart and applies the grace window.
      return prisma.$transaction(async (tx) => {
        // The conditional UPDATE is the atomic step: PostgreSQL makes a concurrent UPDATE of the
        // same row wait for this transaction and then re-check the WHERE clause, so exactly one
        // caller consumes the token. A loser that revokes the family does so after our successor
        // row is committed, so the successor is revoked with it.
        const { count } = await tx.refreshToken.updateMany({
          where: { jti, consumedAt: null, revokedAt: null, expiresAt: { gt: now } },
          data: { consumedAt: now },
        })
        if (count === 1) {
          await tx.refreshToken.create({ data: successor })
          return { outcome: 'rotated' as const }
        }
        const record: RefreshTokenRecord | null = await tx.refreshToken.findUnique({ where: { jti } })
        if (!record) return { outcome: 'unknown' as const }
        const withinGrace = graceSeconds > 0 && record.revokedAt === null && record.consumedAt !== null &&
          now.getTime() - record.consumedAt.getTime() <= graceSeconds * 1000 && record.expiresAt > now
        if (withinGrace) {
          // Re-check the family under the row lock: a reuse elsewhere may have revoked it.
          const revoked = await tx.refreshToken.count({ where: { familyId: record.familyId, revokedAt: { not: null } } })
          if (revoked === 0) {
            await tx.refreshToken.create({ data: successor })
            return { outcome: 'rotated' as const }
          }
        }
        return { outcome: 'reused' as const, record }
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
 * Key revocation's statement ($1 kid, $2 now): the live tokens signed with the key, found through
 * the partial index of live tokens (`refresh_tokens_live_kid_idx`, whose predicate is spelled
 * `num_nulls(consumed_at, revoked_at) = 2`), name the families to revoke;
 * every not-yet-revoked row of those families is revoked (through the family index; the family
 * list is an array computed first, so the plan does not hinge on how many rows the planner
 * guesses the live tokens are among the history). History —
 * consumed, revoked and expired rows, however many — is never read. A family whose live token a
 * newer key signed is left alone: its consumed ancestors cannot be used again (presenting one is
 * reuse, which revokes the family), and the revoked key no longer verifies anything.
 */
export const REVOKE_BY_KID_SQL = `
  WITH revoked AS (
    UPDATE refresh_tokens SET revoked_at = $2
    WHERE revoked_at IS NULL AND family_id = ANY (ARRAY(
      SELECT DISTINCT family_id FROM refresh_tokens
      WHERE kid = $1 AND num_nulls(consumed_at, revoked_at) = 2 AND expires_at > $2))
    RETURNING family_id
  )
  SELECT count(DISTINCT family_id)::int AS families FROM revoked`

/** Revokes every live family whose live token was signed with `kid`; returns how many families. */
export async function revokeFamiliesSignedBy (db: Tx, kid: string, now: Date): Promise<number> {
  const [row] = await db.$queryRawUnsafe<Array<{ families: number }>>(REVOKE_BY_KID_SQL, kid, now)
  return row?.families ?? 0
}
