/**
 * Pending authorization requests (login and consent in progress) on Prisma. A sign-in reads its
 * parked request on every step (password, second-factor page, its form), so the read and the
 * first-factor mark run on the pg pool under Prisma as named statements (Prisma's query path cost
 * a large part of what a second step adds to a sign-in); Prisma runs them without a pool.
 *
 * @module
 */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { FactorPresence, FirstFactorOwed, OwingFactor, OwingFactorRead, PendingAuthorizationRecord, PendingAuthorizationStore, UserRecord } from '../types.js'
import { presenceColumns, totp, totpColumns } from './factors.js'
import { userColumns } from './users.js'
import { APPEND_EVENTS, eventRows } from './audit.js'
import { splitByPrefix } from './joined_rows.js'

const REQUEST_COLUMNS = (t: string) => `${t}.id, ${t}.browser_hash AS "browserHash", ${t}.client_id AS "clientId", ${t}.redirect_uri AS "redirectUri",
    ${t}.redirect_uri_sent AS "redirectUriSent", ${t}.scope, ${t}.state, ${t}.nonce, ${t}.code_challenge AS "codeChallenge",
    ${t}.code_challenge_method AS "codeChallengeMethod", ${t}.prompt, ${t}.max_age AS "maxAge", ${t}.login_hint AS "loginHint",
    ${t}.acr_values AS "acrValues", ${t}.factor_user_id AS "factorUserId", ${t}.factor_amr AS "factorAmr", ${t}.dpop_jkt AS "dpopJkt",
    ${t}.session_id AS "sessionId", ${t}.created_at AS "createdAt", ${t}.expires_at AS "expiresAt"`

const FIND = {
  name: 'parked_find',
  text: `SELECT ${REQUEST_COLUMNS('authorization_requests')} FROM authorization_requests WHERE id = $1 AND expires_at > $2`,
}

/**
 * The second step's read (its page and its form): the parked request, the user who passed its
 * first factor and, per `read`, which factors that user has or the TOTP record, in one statement
 * (the page read them in two round trips after each other, the form in two and a third). The
 * user's and the factors' columns are named `user.…`, `presence.…`, `totp.…`.
 */
const OWING_FACTOR: Record<OwingFactorRead | 'none', { name: string, text: string }> = {
  none: { name: 'parked_owing_factor', text: owingFactorSQL('', '') },
  presence: { name: 'parked_owing_factor_presence', text: owingFactorSQL(`, ${presenceColumns('r.factor_user_id', 'presence.')}`, '') },
  totp: {
    name: 'parked_owing_factor_totp',
    text: owingFactorSQL(`, ${totpColumns('t', 'totp.')}`, 'LEFT JOIN totp_factors t ON t.user_id = r.factor_user_id'),
  },
}

function owingFactorSQL (columns: string, join: string): string {
  return `SELECT ${REQUEST_COLUMNS('r')}, ${userColumns('u', 'user.')}${columns}
    FROM authorization_requests r JOIN users u ON u.id = r.factor_user_id ${join}
    WHERE r.id = $1 AND r.expires_at > $2`
}

/** Splits a joined row by column-name prefix (`user.id` → `user` { id }); unprefixed names are the request's. */
function owingFactor (row: Record<string, unknown>): OwingFactor {
  const parts = splitByPrefix(row)
  const t = parts.totp as Parameters<typeof totp>[0] | undefined
  return {
    request: parts[''] as unknown as PendingAuthorizationRecord,
    user: parts.user as unknown as UserRecord,
    presence: (parts.presence as unknown as FactorPresence | undefined) ?? null,
    // LEFT JOIN: a user without a TOTP record has its columns all null.
    totp: t && t.userId !== null ? totp(t) : null,
  }
}

/**
 * The "password passed" mark, with the audit events of that first factor in the same statement.
 * Its commit does not wait for the WAL flush (`synchronous_commit` off for this one transaction,
 * as used_jtis does): the mark grants nothing by itself, the second factor still has to be
 * presented, and a PostgreSQL crash that forgot it only means the user types the password again
 * (the second-factor page then finds no factor owed and shows the expired-request page). The
 * events go with it: they record that step only, and a crash forgets them together with the
 * mark, never one without the other; the completed sign-in's events commit synchronously with
 * its session (storage/prisma/sign_ins.ts). Visibility is unchanged: every later statement, the
 * second-factor page's included, sees both from the commit on.
 */
const FIRST_FACTOR = {
  name: 'parked_first_factor',
  text: `WITH ${APPEND_EVENTS('$4')}
    UPDATE authorization_requests SET factor_user_id = $2::uuid, factor_amr = $3::text[]
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
    WHERE id = $1`,
}

/**
 * After a password: which factors the user has and, when that leaves a step owed ($5 with a second
 * factor, $6 without), the mark and its events, in one statement (the sign-in read the factors,
 * then wrote the mark: a second round trip, and its commit, for every user owing a step). Written
 * as {@link FIRST_FACTOR} (asynchronous commit); a user owing nothing writes nothing, and the
 * events then go with the sign-in's own transaction. `marked` is false also for a request gone.
 */
const FIRST_FACTOR_IF_OWED = {
  name: 'parked_first_factor_if_owed',
  text: `WITH presence AS (SELECT ${presenceColumns('$2::uuid')}),
  marked AS (
    UPDATE authorization_requests SET factor_user_id = $2::uuid, factor_amr = $3::text[]
    FROM presence, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
    WHERE id = $1 AND CASE WHEN presence.totp OR presence.passkeys > 0 THEN $5::boolean ELSE $6::boolean END
    RETURNING 1),
  ${APPEND_EVENTS('$4', 'EXISTS (SELECT 1 FROM marked)')}
  SELECT presence.*, EXISTS (SELECT 1 FROM marked) AS marked FROM presence`,
}

export function prismaPendingAuthorizationStore (prisma: PrismaClient, pool?: pg.Pool): PendingAuthorizationStore {
  return {
    async create (request, { keepPerBrowser }) {
      await prisma.$transaction([
        prisma.authorizationRequest.create({ data: request }),
        // Uses the (browser_hash, created_at) index; the new row is excluded, so it is never the one dropped.
        prisma.$executeRaw`
          DELETE FROM authorization_requests WHERE id IN (
            SELECT id FROM authorization_requests
            WHERE browser_hash = ${request.browserHash} AND id <> ${request.id}
            ORDER BY created_at DESC, id
            OFFSET ${Math.max(0, keepPerBrowser - 1)}
          )`,
      ])
    },
    async find (id, now) {
      if (pool) return (await pool.query<PendingAuthorizationRecord>({ ...FIND, values: [id, now] })).rows[0] ?? null
      return prisma.authorizationRequest.findFirst({ where: { id, expiresAt: { gt: now } } })
    },
    async findOwingFactor (id, now, read) {
      const q = OWING_FACTOR[read ?? 'none']
      const rows = pool
        ? (await pool.query<Record<string, unknown>>({ ...q, values: [id, now] })).rows
        : await prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(q.text, id, now)
      return rows[0] ? owingFactor(rows[0]) : null
    },
    async firstFactorIfOwed (id, userId, amr, events, owed) {
      const values = [id, userId, amr, eventRows(events), owed.withFactor, owed.withoutFactor]
      const [row] = pool
        ? (await pool.query<FactorPresence & { marked: boolean }>({ ...FIRST_FACTOR_IF_OWED, values })).rows
        : await prisma.$queryRawUnsafe<Array<FactorPresence & { marked: boolean }>>(FIRST_FACTOR_IF_OWED.text, ...values)
      const { marked, ...presence } = row
      return { presence, marked }
    },
    async firstFactor (id, userId, amr, events = []) {
      const values = [id, userId, amr, eventRows(events)]
      if (pool) await pool.query({ ...FIRST_FACTOR, values })
      else await prisma.$executeRawUnsafe(FIRST_FACTOR.text, ...values)
    },
    async authenticated (id, sessionId) {
      await prisma.authorizationRequest.updateMany({ where: { id }, data: { sessionId } })
    },
    async rebind (browserHash, newBrowserHash) {
      await prisma.authorizationRequest.updateMany({ where: { browserHash }, data: { browserHash: newBrowserHash } })
    },
    async take (id) {
      const { count } = await prisma.authorizationRequest.deleteMany({ where: { id } })
      return count === 1
    },
  }
}
