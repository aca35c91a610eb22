/**
 * Wire shapes of the admin API (snake_case, as OAuth and OIDC registration metadata are), built
 * from repository records. Response schemas then drop anything not listed, hashes included.
 *
 * @module
 */
import { OAuthError } from '../../errors.js'
import type { FactorSummary } from '../../domain/second_factors.js'
import { authMethodOf, rotatesRefreshTokens } from '../../domain/clients.js'
import type { AuditEventRecord, ClientRecord, RefreshFamily, SessionRecord, StoredKey, UserRecord } from '../../storage/types.js'

export function clientView (client: ClientRecord) {
  return {
    client_id: client.id,
    name: client.name,
    public: client.public,
    first_party: client.firstParty,
    grant_types: client.grantTypes,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    backchannel_logout_uri: client.backchannelLogoutUri,
    scopes: client.scopes,
    audiences: client.audiences,
    exchange_audiences: client.exchangeAudiences ?? [],
    require_pkce: client.requirePkce,
    require_mfa: client.requireMfa ?? false,
    token_endpoint_auth_method: authMethodOf(client),
    jwks: client.jwks ?? null,
    jwks_uri: client.jwksUri ?? null,
    token_endpoint_auth_signing_alg: client.tokenEndpointAuthSigningAlg ?? null,
    request_object_signing_alg: client.requestObjectSigningAlg ?? null,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests ?? false,
    profile: client.profile ?? null,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens ?? false,
    refresh_token_rotation: rotatesRefreshTokens(client),
    disabled: client.disabled ?? false,
    origin: client.origin ?? 'admin',
    created_at: client.createdAt?.toISOString() ?? null,
    last_used_at: client.lastUsedAt?.toISOString() ?? null,
    revoked_at: client.revokedAt?.toISOString() ?? null,
  }
}

export function userView (user: UserRecord) {
  return { id: user.id, username: user.username, email: user.email, disabled: user.disabled, scopes: user.scopes, mfa_required: user.mfaRequired ?? false, email_verified: Boolean(user.emailVerifiedAt) }
}

export function familyView (family: RefreshFamily) {
  return {
    family_id: family.familyId,
    user_id: family.userId,
    client_id: family.clientId,
    scope: family.scope,
    created_at: family.createdAt,
    last_used_at: family.lastUsedAt,
    expires_at: family.expiresAt,
    active: family.active,
    revoked_at: family.revokedAt,
  }
}

export function keyView (key: StoredKey) {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    created_at: key.createdAt,
    activated_at: key.activatedAt,
    retiring_at: key.retiringAt,
    retire_after: key.retireAfter,
    retired_at: key.retiredAt,
  }
}

export function auditView (event: AuditEventRecord) {
  return {
    id: event.id,
    created_at: event.createdAt,
    type: event.type,
    actor: event.actor,
    subject: event.subject,
    client_id: event.clientId,
    ip: event.ip,
    detail: event.detail,
  }
}

/** A page of `items` and the cursor of the next one (null when this page was not full). */
export function sessionView (session: SessionRecord) {
  return {
    sid: session.id,
    user_id: session.userId,
    auth_time: session.authTime,
    created_at: session.createdAt,
    expires_at: session.expiresAt,
    ended_at: session.endedAt,
    client_ids: session.clientIds,
  }
}

export function paged<T, V> (rows: T[], limit: number, cursorOf: (row: T) => string, view: (row: T) => V) {
  return { items: rows.map(view), next_cursor: rows.length === limit ? cursorOf(rows[rows.length - 1]) : null }
}

export function notFound (what: string): OAuthError {
  return new OAuthError('invalid_request', 404, `no such ${what}`)
}

export function conflict (description: string): OAuthError {
  return new OAuthError('invalid_request', 409, description)
}

/** The audit detail of a scope change, `{ scopes: { before, after } }`; empty when nothing changed. */
export function scopeChange (before: readonly string[] | undefined, after: readonly string[]): { scopes?: { before: string[], after: string[] } } {
  if (!before) return {}
  const same = before.length === after.length && before.every((s) => after.includes(s))
  return same ? {} : { scopes: { before: [...before], after: [...after] } }
}

export function factorsView (userId: string, mfaRequired: boolean, summary: FactorSummary) {
  return {
    user_id: userId,
    mfa_required: mfaRequired,
    totp: summary.totp,
    recovery_codes_left: summary.recoveryCodesLeft,
    passkeys: summary.passkeys.map((p) => ({
      id: p.id,
      name: p.name,
      backup_eligible: p.backupEligible,
      backup_state: p.backupState,
      transports: p.transports,
      created_at: p.createdAt.toISOString(),
      last_used_at: p.lastUsedAt?.toISOString() ?? null,
    })),
  }
}
