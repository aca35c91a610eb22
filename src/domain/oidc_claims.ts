/**
 * Standard claims released per scope (OIDC Core §5.4). Discovery's `claims_supported` and the
 * userinfo endpoint both read this table.
 *
 * @module
 */
import type { UserRecord } from '../storage/types.js'

/** Claims each scope releases. Stamp stores no display name, so `name` is the username. */
export const CLAIMS_BY_SCOPE = {
  profile: ['preferred_username', 'name'],
  email: ['email', 'email_verified'],
} as const satisfies Record<string, readonly string[]>

/** Claims that ID Tokens carry regardless of scope (OIDC Core §2). */
export const ID_TOKEN_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'sid', 'amr', 'acr'] as const

export const CLAIMS_SUPPORTED: readonly string[] = [...new Set([...ID_TOKEN_CLAIMS, ...Object.values(CLAIMS_BY_SCOPE).flat()])]

/**
 * The user claims the granted scopes release (without `sub`). OIDC Core §5.1: `email_verified` is
 * true only when the user proved they receive mail at the current address (a verification or reset
 * link they followed; changing the address clears it); it goes with `email`, never without.
 */
export function userClaims (user: Pick<UserRecord, 'username' | 'email' | 'emailVerifiedAt'>, scopes: readonly string[]): Record<string, string | boolean> {
  const values: Record<string, string | boolean | null> = {
    preferred_username: user.username,
    name: user.username,
    email: user.email,
    email_verified: user.email === null ? null : Boolean(user.emailVerifiedAt),
  }
  const claims: Record<string, string | boolean> = {}
  for (const [scope, names] of Object.entries(CLAIMS_BY_SCOPE)) {
    if (!scopes.includes(scope)) continue
    for (const name of names) {
      const value = values[name]
      if (value !== null && value !== undefined) claims[name] = value
    }
  }
  return claims
}
