/**
 * The row shape both refresh statements return for the presented token (EXCHANGE_SQL in
 * refresh_tokens.ts, USE_SQL in refresh_use.ts), and its one mapping to the store's types.
 *
 * @module
 */
import type { RefreshExchangeResult } from '../types.js'

export const epoch = (seconds: number) => new Date(seconds * 1000)

/**
 * What the refresh statements read about the
 * presented token. Timestamps come as seconds since the epoch: a float parses far cheaper than a
 * timestamp on this hot path.
 */
export interface TargetRow {
  jti: string
  family_id: string
  user_id: string | null
  client_id: string
  scope: string
  audience: string[] | null
  kid: string
  session_id: string | null
  acr: string | null
  amr: string[] | null
  expires_epoch: number
  created_epoch: number
  consumed_epoch: number | null
  revoked_epoch: number | null
  auth_epoch: number | null
  user_active: boolean
  client_active: boolean
  session_active: boolean
  granted_scope: string
  family_ended: boolean
  successor_jti: string | null
  successor_kid: string | null
  successor_scope: string | null
  successor_expires_epoch: number | null
  successor_live: boolean | null
}

/** A {@link TargetRow} as the part of {@link RefreshExchangeResult} that does not depend on a rotation. */
export function readTarget (row: TargetRow): Omit<RefreshExchangeResult, 'rotated' | 'issued'> {
  return {
    record: {
      jti: row.jti,
      familyId: row.family_id,
      userId: row.user_id,
      clientId: row.client_id,
      scope: row.scope,
      audience: row.audience ?? [],
      kid: row.kid,
      sessionId: row.session_id,
      expiresAt: epoch(row.expires_epoch),
      createdAt: epoch(row.created_epoch),
      consumedAt: row.consumed_epoch === null ? null : epoch(row.consumed_epoch),
      revokedAt: row.revoked_epoch === null ? null : epoch(row.revoked_epoch),
      authTime: row.auth_epoch === null ? null : epoch(row.auth_epoch),
      acr: row.acr,
      amr: row.amr ?? [],
      userActive: row.user_active,
    },
    clientActive: row.client_active,
    sessionActive: row.session_active,
    grantedScope: row.granted_scope,
    familyEnded: row.family_ended,
    successor: row.successor_jti && row.successor_kid
      ? { jti: row.successor_jti, kid: row.successor_kid, scope: row.successor_scope!, expiresAt: epoch(row.successor_expires_epoch!), live: row.successor_live === true }
      : null,
  }
}
