/**
 * Client registration rules, shared by `stamp client create` and the admin API, so both accept
 * exactly the same clients.
 *
 * @module
 */
import { InvalidRequest } from '../errors.js'
import type { ClientRecord } from '../storage/types.js'
import { SCOPE_TOKEN } from './scopes.js'
import { REFRESH_TOKEN_AUDIENCE } from './tokens.js'


/** Scopes an authorization_code client gets when none are given. */
export const OIDC_DEFAULT_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access']

export type ClientSettings = Omit<ClientRecord, 'id' | 'secretHash'>

/**
 * Checks a client's settings and fills in what they imply; throws invalid_request naming the
 * problem. `knownGrants` is the grant registry (plus grants other routes serve).
 */
export function normalizeClientSettings (settings: ClientSettings, knownGrants: readonly string[]): ClientSettings {
  const grantTypes = new Set(settings.grantTypes.length ? settings.grantTypes : ['client_credentials'])
  for (const grant of grantTypes) {
    if (!knownGrants.includes(grant)) throw new InvalidRequest(`unknown grant ${grant}; known: ${knownGrants.join(', ')}`)
  }
  // A client that logs users in can refresh: password (and authorization_code) imply refresh_token.
  if (grantTypes.has('password') || grantTypes.has('authorization_code')) grantTypes.add('refresh_token')
  if (settings.public && grantTypes.has('client_credentials')) throw new InvalidRequest('a public client cannot use client_credentials')
  if (grantTypes.has('password') && !settings.firstParty) throw new InvalidRequest('the password grant requires a first-party client')
  const codeFlow = grantTypes.has('authorization_code')
  if (codeFlow && settings.redirectUris.length === 0) throw new InvalidRequest('the authorization_code grant requires at least one redirect URI')
  const uris = [...settings.redirectUris, ...settings.postLogoutRedirectUris, ...(settings.backchannelLogoutUri ? [settings.backchannelLogoutUri] : [])]
  for (const uri of uris) {
    if (!URL.canParse(uri) || uri.includes('#')) throw new InvalidRequest(`not an absolute URI without fragment: ${uri}`)
  }
  if (settings.audiences.includes(REFRESH_TOKEN_AUDIENCE)) throw new InvalidRequest(`${REFRESH_TOKEN_AUDIENCE} is the audience of refresh tokens, not of a resource`)
  for (const scope of settings.scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new InvalidRequest('scopes must be RFC 6749 scope tokens')
  }
  // A sign-in client registered without scopes gets the OpenID Connect ones.
  const scopes = settings.scopes.length || !codeFlow ? settings.scopes : OIDC_DEFAULT_SCOPES
  return { ...settings, grantTypes: [...grantTypes], scopes: [...new Set(scopes)], audiences: [...new Set(settings.audiences)] }
}
