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
import type { PendingAuthorizationRecord, PendingAuthorizationStore } from '../types.js'

const FIND = {
  name: 'parked_find',
  text: `SELECT id, browser_hash AS "browserHash", client_id AS "clientId", redirect_uri AS "redirectUri", redirect_uri_sent AS "redirectUriSent",
    scope, state, nonce, code_challenge AS "codeChallenge", code_challenge_method AS "codeChallengeMethod", prompt, max_age AS "maxAge",
    login_hint AS "loginHint", acr_values AS "acrValues", factor_user_id AS "factorUserId", factor_amr AS "factorAmr", dpop_jkt AS "dpopJkt",
    session_id AS "sessionId", created_at AS "createdAt", expires_at AS "expiresAt"
    FROM authorization_requests WHERE id = $1 AND expires_at > $2`,
}

/**
 * The "password passed" mark. Its commit does not wait for the WAL flush (`synchronous_commit`
 * off for this one transaction, as the TOTP step and used_jtis do): the mark grants nothing by
 * itself, the second factor still has to be presented, and a PostgreSQL crash that forgot it only
 * means the user types the password again (the second-factor page then finds no factor owed and
 * shows the expired-request page). Visibility is unchanged: every later statement, the
 * second-factor page's included, sees it from the commit on.
 */
const FIRST_FACTOR = {
  name: 'parked_first_factor',
  text: `UPDATE authorization_requests SET factor_user_id = $2::uuid, factor_amr = $3::text[]
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
    WHERE id = $1`,
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
    async firstFactor (id, userId, amr) {
      if (pool) await pool.query({ ...FIRST_FACTOR, values: [id, userId, amr] })
      else await prisma.$executeRawUnsafe(FIRST_FACTOR.text, id, userId, amr)
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
