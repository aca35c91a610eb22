/**
 * Scope and audience resolution (RFC 6749 §3.3, RFC 8707 §2).
 *
 * @module
 */
import { InvalidRequest, InvalidScope, InvalidTarget } from '../errors.js'
import { REFRESH_TOKEN_AUDIENCE } from './tokens.js'

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** OpenID Connect scopes every user may grant; other scopes must be in the user's allow-list. */
export const USER_BASELINE_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access']

export function parseScope (value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined
  const scopes = value.split(' ')
  if (scopes.some((s) => !SCOPE_TOKEN.test(s))) throw new InvalidScope('scope is malformed')
  return [...new Set(scopes)]
}

/**
 * Grants exactly the requested scopes when all are allowed ("invalid_scope" otherwise); with no
 * `scope` parameter, grants everything allowed (RFC 6749 §3.3 pre-defined default).
 */
export function resolveScope (requested: string[] | undefined, allowed: readonly string[]): string {
  if (requested === undefined) return allowed.join(' ')
  const refused = requested.filter((s) => !allowed.includes(s))
  if (refused.length) throw new InvalidScope(`scope not allowed: ${refused.join(' ')}`)
  return requested.join(' ')
}

export function allowedForUser (clientScopes: readonly string[], userScopes: readonly string[]): string[] {
  return clientScopes.filter((s) => USER_BASELINE_SCOPES.includes(s) || userScopes.includes(s))
}

/**
 * RFC 8707 §2: `resource` selects the audience among those registered for the client; without
 * it, the token is for all of them, or for Stamp itself when none is registered.
 */
export function resolveAudience (resources: string[] | undefined, registered: readonly string[], issuer: string): string[] {
  // Refresh tokens' audience is never an access token's, even if it got into a client's record.
  const clientAudiences = registered.filter((a) => a !== REFRESH_TOKEN_AUDIENCE)
  if (!resources?.length) return clientAudiences.length ? [...clientAudiences] : [issuer]
  for (const resource of resources) {
    if (resource.includes('#')) throw new InvalidRequest('resource must not contain a fragment')
    if (!clientAudiences.includes(resource)) throw new InvalidTarget(`resource not allowed for this client: ${resource}`)
  }
  return [...new Set(resources)]
}
