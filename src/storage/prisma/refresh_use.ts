/**
 * The refresh grant for a client that does not rotate its refresh tokens (FAPI 2.0 Security
 * Profile §5.3.2.1: "shall not use refresh token rotation except in extraordinary
 * circumstances"): {@link RefreshTokenStore.use}. The token is read with everything that decides
 * whether it may still be used, the same facts the rotating statement (refresh_tokens.ts
 * EXCHANGE_SQL) reads, and nothing is consumed: the same token keeps working until it expires,
 * its family reaches REFRESH_FAMILY_MAX_AGE, or it is revoked.
 *
 * A separate statement, not a flag on EXCHANGE_SQL: the rotating one is the hot path of every
 * other client and is tuned on its own.
 *
 * @module
 */
import type pg from 'pg'
import type { RefreshExchangeResult, RefreshUse } from '../types.js'
import { readTarget, type TargetRow } from './refresh_rows.js'


/**
 * $1 jti, $2 now, $3 family max age (s), $4 the scopes every user may grant.
 *
 * `granted_scope` is the token's scope, in its order, less what its client, its user (their
 * scopes or the baseline) and, for a third-party client, the consent no longer allow. The session
 * row is locked FOR KEY SHARE until the commit, as in the rotating statement, so a logout in
 * flight is waited for and seen. When something was taken away, `narrowed` stores the narrower
 * scope on the token, as a rotation stores it on the successor: a privilege given back later
 * does not come back to this family. Nothing else is written.
 */
export const USE_SQL = `
  WITH target AS (
    SELECT t.ctid AS row_id, t.jti, t.family_id, t.user_id, t.client_id, t.scope, t.audience, t.kid, t.session_id,
           t.expires_at, t.created_at, t.consumed_at, t.revoked_at, t.successor_jti, t.auth_time, t.acr, t.amr,
           (t.user_id IS NULL OR (u.id IS NOT NULL AND NOT u.disabled)) AS user_active,
           (c.client_id IS NOT NULL AND NOT c.disabled) AS client_active,
           (t.session_id IS NULL OR COALESCE(
             (SELECT s.ended_at IS NULL FROM sessions s WHERE s.id = t.session_id FOR KEY SHARE), false)) AS session_active,
           date_trunc('second', t.family_created_at) + $3::int * interval '1 second' <= $2 AS family_ended,
           array_to_string(ARRAY(
             SELECT g.s FROM unnest(string_to_array(t.scope, ' ')) WITH ORDINALITY AS g(s, i)
             WHERE g.s = ANY (c.scopes)
               AND (t.user_id IS NULL OR g.s = ANY ($4::text[]) OR g.s = ANY (u.scopes))
               AND (t.user_id IS NULL OR c.first_party OR g.s = ANY (k.scopes))
             ORDER BY g.i), ' ') AS granted_scope
    FROM refresh_tokens t
    LEFT JOIN users u ON u.id = t.user_id
    LEFT JOIN clients c ON c.client_id = t.client_id
    LEFT JOIN consents k ON k.user_id = t.user_id AND k.client_id = t.client_id
    WHERE t.jti = $1
  ), narrowed AS (
    UPDATE refresh_tokens r SET scope = target.granted_scope
    FROM target
    WHERE r.ctid = target.row_id AND r.jti = $1 AND target.granted_scope <> r.scope AND target.granted_scope <> ''
      AND r.consumed_at IS NULL AND r.revoked_at IS NULL
    RETURNING 1
  )
  SELECT target.jti, target.family_id, target.user_id::text AS user_id, target.client_id, target.scope, target.audience, target.kid, target.session_id,
         extract(epoch FROM target.expires_at)::float8 AS expires_epoch, extract(epoch FROM target.created_at)::float8 AS created_epoch,
         extract(epoch FROM target.consumed_at)::float8 AS consumed_epoch, extract(epoch FROM target.revoked_at)::float8 AS revoked_epoch,
         target.user_active, target.client_active, target.session_active, target.granted_scope, target.family_ended,
         target.successor_jti, n.kid AS successor_kid, n.scope AS successor_scope,
         extract(epoch FROM n.expires_at)::float8 AS successor_expires_epoch,
         (n.consumed_at IS NULL AND n.revoked_at IS NULL AND n.expires_at > $2) AS successor_live,
         extract(epoch FROM target.auth_time)::float8 AS auth_epoch, target.acr, target.amr
  FROM target LEFT JOIN refresh_tokens n ON n.jti = target.successor_jti`

/** {@link RefreshTokenStore.use} on `pool`: never consumes, so `rotated` is always false. */
export async function useRefreshToken (pool: Pick<pg.Pool, 'query'>, request: RefreshUse): Promise<RefreshExchangeResult | null> {
  const { rows } = await pool.query<TargetRow>({
    name: 'stamp_refresh_use_v2',
    text: USE_SQL,
    values: [request.jti, request.now, request.familyMaxAge, request.userBaselineScopes],
  })
  const row = rows[0]
  if (!row) return null
  return { ...readTarget(row), rotated: false, issued: null }
}
