/**
 * Client registration rules, shared by `stamp client create` and the admin API, so both accept
 * exactly the same clients.
 *
 * @module
 */
import { InvalidRequest } from '../errors.js'
import type { ClientRecord } from '../storage/types.js'
import { SCOPE_TOKEN } from './scopes.js'
import { uriProblem, type URIKind } from './redirect_uris.js'
import { REFRESH_TOKEN_AUDIENCE } from './tokens.js'
import { ClientKeysError, MAX_CLIENT_KEYS, publicClientJWKS, signingAlgsProblem } from './client_keys.js'
import { FAPI2_PROFILE, PRIVATE_KEY_JWT } from './client_assertion.js'
import { isUUID } from '../ids.js'

/** Security profiles a client can be held to (docs/modern-oauth.md, "FAPI 2.0 profile"). */
export const CLIENT_PROFILES: readonly string[] = [FAPI2_PROFILE]

/** Scopes an authorization_code client gets when none are given. */
export const OIDC_DEFAULT_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access']

export type ClientSettings = Omit<ClientRecord, 'id' | 'secretHash'>

/** Short names the CLI and admin API accept for the URN grant types (RFC 8628 §3.4, RFC 8693 §2.1). */
export const GRANT_ALIASES: Readonly<Record<string, string>> = {
  device_code: 'urn:ietf:params:oauth:grant-type:device_code',
  token_exchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
}

/**
 * A client id may not look like a user id: a client_credentials token's `sub` is its client's
 * id, and a resource server must never mistake it for a user's (issue 11 item 5).
 */
export function clientIdProblem (id: string): string | undefined {
  if (!/^[A-Za-z0-9._~-]{1,128}$/.test(id)) return 'client_id must be 1 to 128 of A-Z a-z 0-9 . _ ~ -'
  if (isUUID(id)) return 'client_id must not be UUID-shaped (user ids are UUIDs)'
  return undefined
}

/**
 * Checks a client's settings and fills in what they imply; throws invalid_request naming the
 * problem. `knownGrants` is the grant registry (plus grants other routes serve).
 */
export function normalizeClientSettings (settings: ClientSettings, knownGrants: readonly string[]): ClientSettings {
  const grantTypes = new Set((settings.grantTypes.length ? settings.grantTypes : ['client_credentials']).map((g) => GRANT_ALIASES[g] ?? g))
  for (const grant of grantTypes) {
    if (!knownGrants.includes(grant)) throw new InvalidRequest(`unknown grant ${grant}; known: ${knownGrants.join(', ')}`)
  }
  // A client that logs users in can refresh: password (and authorization_code) imply refresh_token.
  if (grantTypes.has('password') || grantTypes.has('authorization_code') || grantTypes.has(GRANT_ALIASES.device_code)) grantTypes.add('refresh_token')
  const exchangeAudiences = [...new Set(settings.exchangeAudiences ?? [])]
  if (grantTypes.has(GRANT_ALIASES.token_exchange)) {
    if (settings.public) throw new InvalidRequest('a public client cannot use token exchange')
    if (!exchangeAudiences.length) throw new InvalidRequest('token exchange requires at least one exchange audience')
  }
  if (exchangeAudiences.includes(REFRESH_TOKEN_AUDIENCE)) throw new InvalidRequest(`${REFRESH_TOKEN_AUDIENCE} is the audience of refresh tokens, not of a resource`)
  if (settings.public && grantTypes.has('client_credentials')) throw new InvalidRequest('a public client cannot use client_credentials')
  if (grantTypes.has('password') && !settings.firstParty) throw new InvalidRequest('the password grant requires a first-party client')
  const codeFlow = grantTypes.has('authorization_code')
  if (codeFlow && settings.redirectUris.length === 0) throw new InvalidRequest('the authorization_code grant requires at least one redirect URI')
  const uris: Array<[string, URIKind]> = [
    ...settings.redirectUris.map((uri): [string, URIKind] => [uri, 'redirect_uri']),
    ...settings.postLogoutRedirectUris.map((uri): [string, URIKind] => [uri, 'post_logout_redirect_uri']),
    ...(settings.backchannelLogoutUri ? [[settings.backchannelLogoutUri, 'backchannel_logout_uri'] as [string, URIKind]] : []),
  ]
  for (const [uri, kind] of uris) {
    const problem = uriProblem(uri, kind)
    if (problem) throw new InvalidRequest(`${problem}: ${uri}`)
  }
  if (settings.audiences.includes(REFRESH_TOKEN_AUDIENCE)) throw new InvalidRequest(`${REFRESH_TOKEN_AUDIENCE} is the audience of refresh tokens, not of a resource`)
  for (const scope of settings.scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new InvalidRequest('scopes must be RFC 6749 scope tokens')
  }
  // A sign-in client registered without scopes gets the OpenID Connect ones.
  const scopes = settings.scopes.length || !codeFlow ? settings.scopes : OIDC_DEFAULT_SCOPES
  const keys = clientKeySettings(settings, grantTypes)
  // A public client always needs PKCE (RFC 9700 §2.1.1), whatever the setting says; so does FAPI 2.0 (§5.3.2.2).
  const requirePkce = settings.public || settings.requirePkce || keys.profile === FAPI2_PROFILE
  // RFC 9700 §4.14.2: a public client's refresh tokens "MUST be sender-constrained or use refresh
  // token rotation"; only with dpop_bound_access_tokens is every one of them bound (RFC 9449 §5).
  if (settings.refreshTokenRotation === false && settings.public && !(keys.dpopBoundAccessTokens ?? settings.dpopBoundAccessTokens)) {
    throw new InvalidRequest('a public client without DPoP-bound tokens must rotate its refresh tokens (RFC 9700 §4.14.2)')
  }
  return { ...settings, grantTypes: [...grantTypes], scopes: [...new Set(scopes)], audiences: [...new Set(settings.audiences)], requirePkce, exchangeAudiences, ...keys }
}

/**
 * private_key_jwt, the client's public keys and signing algorithms, PAR and the profile. RFC 7591 §2: "The jwks_uri and
 * jwks parameters MUST NOT both be present". The FAPI 2.0 profile (Security Profile §5.3.2) needs
 * a confidential client authenticating with private_key_jwt, no password grant, PKCE, PAR and
 * DPoP-bound tokens.
 */
function clientKeySettings (settings: ClientSettings, grantTypes: Set<string>) {
  const method = settings.tokenEndpointAuthMethod ?? null
  if (method !== null && method !== PRIVATE_KEY_JWT) throw new InvalidRequest(`token_endpoint_auth_method ${method} cannot be stored; secret methods come with the secret`)
  let jwks = settings.jwks ?? null
  const jwksUri = settings.jwksUri ?? null
  if (jwks && jwksUri) throw new InvalidRequest('give jwks or jwks_uri, not both (RFC 7591 §2)')
  if (jwks) {
    try {
      jwks = publicClientJWKS(jwks, MAX_CLIENT_KEYS)
    } catch (err) {
      if (err instanceof ClientKeysError) throw new InvalidRequest(`jwks: ${err.message}`)
      throw err
    }
  }
  if (jwksUri !== null && (!URL.canParse(jwksUri) || new URL(jwksUri).protocol !== 'https:' || jwksUri.includes('#'))) throw new InvalidRequest('jwks_uri must be an https URL without fragment')
  if (method === PRIVATE_KEY_JWT) {
    if (settings.public) throw new InvalidRequest('a public client cannot use private_key_jwt')
    if (!jwks && !jwksUri) throw new InvalidRequest('private_key_jwt needs the client\'s public keys: jwks or jwks_uri')
  }
  const profile = settings.profile ?? null
  if (profile !== null && !CLIENT_PROFILES.includes(profile)) throw new InvalidRequest(`unknown profile ${profile}; known: ${CLIENT_PROFILES.join(', ')}`)
  if (profile === FAPI2_PROFILE) {
    if (method !== PRIVATE_KEY_JWT) throw new InvalidRequest('the fapi2 profile needs private_key_jwt client authentication')
    if (grantTypes.has('password')) throw new InvalidRequest('the fapi2 profile does not allow the password grant')
  }
  const tokenEndpointAuthSigningAlg = settings.tokenEndpointAuthSigningAlg ?? null
  const requestObjectSigningAlg = settings.requestObjectSigningAlg ?? null
  const algProblem = signingAlgsProblem({ tokenEndpointAuthSigningAlg: tokenEndpointAuthSigningAlg ?? undefined, requestObjectSigningAlg: requestObjectSigningAlg ?? undefined, method, profile, jwks })
  if (algProblem) throw new InvalidRequest(algProblem)
  return {
    tokenEndpointAuthMethod: method,
    jwks,
    jwksUri,
    tokenEndpointAuthSigningAlg,
    requestObjectSigningAlg,
    requirePushedAuthorizationRequests: settings.requirePushedAuthorizationRequests === true || profile === FAPI2_PROFILE,
    profile,
    // FAPI 2.0 §5.3.2.1: "shall only issue sender-constrained access tokens" (DPoP; mTLS is not offered).
    ...(profile === FAPI2_PROFILE ? { dpopBoundAccessTokens: true } : {}),
  }
}

/**
 * Whether the client's refresh tokens rotate (RFC 9700 §4.14.2), its own setting first: on by
 * default, off for the fapi2 profile (FAPI 2.0 Security Profile §5.3.2.1: "shall not use refresh
 * token rotation except in extraordinary circumstances").
 */
export function rotatesRefreshTokens (client: Pick<ClientRecord, 'refreshTokenRotation' | 'profile'>): boolean {
  return client.refreshTokenRotation ?? client.profile !== FAPI2_PROFILE
}

/** Whether a client with these settings gets a client secret. */
export function usesSecret (settings: Pick<ClientSettings, 'public' | 'tokenEndpointAuthMethod'>): boolean {
  return !settings.public && settings.tokenEndpointAuthMethod !== PRIVATE_KEY_JWT
}

/** The token endpoint authentication method of a client (RFC 7591 §2). */
export function authMethodOf (client: Pick<ClientRecord, 'public' | 'tokenEndpointAuthMethod'>): string {
  return client.tokenEndpointAuthMethod ?? (client.public ? 'none' : 'client_secret_basic')
}
