/**
 * The registration policy for clients that register themselves, by RFC 7591 dynamic registration
 * or by a client ID metadata document: which grant types, authentication methods, redirect URIs
 * and scopes they may have. Such clients are always third-party: never first-party, never the
 * password grant or client_credentials, never a reserved (`stamp:`) scope.
 *
 * @module
 */
import { InvalidClientMetadata, InvalidRedirectURI } from '../errors.js'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord } from '../storage/types.js'
import { SCOPE_TOKEN } from './scopes.js'
import { ClientKeysError, MAX_CLIENT_KEYS, publicClientJWKS, signingAlgsProblem } from './client_keys.js'
import { PRIVATE_KEY_JWT } from './client_assertion.js'

type RegistrationPolicy = Policy['registration']

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

/**
 * Why a redirect URI is refused, or null. https (RFC 9700 §4.1), or http on a loopback address
 * with any port (RFC 8252 §7.3); never a fragment (RFC 6749 §3.1.2), credentials or a wildcard.
 */
export function redirectURIProblem (uri: string, policy: Pick<RegistrationPolicy, 'allowLoopbackHttp'>): string | null {
  if (uri.length > 2000) return 'it is too long'
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return 'it is not an absolute URI'
  }
  if (uri.includes('#')) return 'it contains a fragment'
  if (url.username || url.password) return 'it contains credentials'
  if (url.hostname.includes('*')) return 'wildcards are not allowed'
  if (url.protocol === 'https:') return null
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return policy.allowLoopbackHttp ? null : 'loopback redirect URIs are not allowed'
  return 'it must use https (or http on a loopback address)'
}

function reserved (scope: string, policy: RegistrationPolicy): boolean {
  return policy.reservedScopePrefixes.some((prefix) => scope.startsWith(prefix))
}

/**
 * The scopes a self-registered client gets: those it asked for that the policy allows (silently
 * narrowed, as RFC 7591 §2 lets the server do), or every allowed scope when it asked for none.
 */
export function thirdPartyScopes (requested: string | undefined, policy: RegistrationPolicy): string[] {
  const allowed = policy.scopes.filter((s) => !reserved(s, policy))
  if (requested === undefined || requested.trim() === '') return [...allowed]
  return [...new Set(requested.split(' ').filter((s) => SCOPE_TOKEN.test(s) && allowed.includes(s)))]
}

/** RFC 7591 §2 client metadata, as sent to /register (or PUT to the configuration endpoint). */
export interface RegistrationRequest {
  redirect_uris?: unknown
  token_endpoint_auth_method?: unknown
  grant_types?: unknown
  response_types?: unknown
  client_name?: unknown
  scope?: unknown
  [field: string]: unknown
}

/** Informational fields stored and echoed back (RFC 7591 §2), length-limited. */
const ECHOED_FIELDS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'software_id', 'software_version'] as const

export interface RegisteredSettings {
  client: Omit<ClientRecord, 'id' | 'secretHash'>
  authMethod: string
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')

/**
 * RFC 7591 §2 `jwks` / `jwks_uri`: "The jwks_uri and jwks parameters MUST NOT both be present";
 * private_key_jwt (RFC 7523 §2.2) needs one of them. A set is checked like an operator's (public
 * signing keys of the accepted types and algorithms only, rebuilt from an allow-list of members);
 * a `jwks_uri` must be https and is fetched, when keys are needed, through the same SSRF-hardened
 * fetcher as client metadata documents (timeout, size limit, no private addresses; client_keys.ts).
 */
function registeredKeys (request: RegistrationRequest, method: string): Pick<ClientRecord, 'tokenEndpointAuthMethod' | 'jwks' | 'jwksUri' | 'tokenEndpointAuthSigningAlg' | 'requestObjectSigningAlg'> {
  const { jwks, jwks_uri: jwksUri } = request
  if (jwks !== undefined && jwksUri !== undefined) throw new InvalidClientMetadata('jwks and jwks_uri must not both be present (RFC 7591 §2)')
  if (method === PRIVATE_KEY_JWT && jwks === undefined && jwksUri === undefined) throw new InvalidClientMetadata('private_key_jwt needs the client\'s public keys: jwks or jwks_uri')
  let set: ClientRecord['jwks'] = null
  if (jwks !== undefined) {
    try {
      set = publicClientJWKS(jwks, MAX_CLIENT_KEYS)
    } catch (err) {
      if (err instanceof ClientKeysError) throw new InvalidClientMetadata(`jwks: ${err.message}`)
      throw err
    }
  }
  if (jwksUri !== undefined) {
    if (typeof jwksUri !== 'string' || jwksUri.length > 2000 || !URL.canParse(jwksUri)) throw new InvalidClientMetadata('jwks_uri must be an absolute https URL')
    const url = new URL(jwksUri)
    if (url.protocol !== 'https:' || jwksUri.includes('#') || url.username || url.password) throw new InvalidClientMetadata('jwks_uri must be an https URL without credentials or fragment')
  }
  // OIDC Dynamic Client Registration §2: JWTs signed otherwise "MUST be rejected".
  const assertionAlg = request.token_endpoint_auth_signing_alg
  const requestObjectAlg = request.request_object_signing_alg
  const algProblem = signingAlgsProblem({ tokenEndpointAuthSigningAlg: assertionAlg, requestObjectSigningAlg: requestObjectAlg, method, jwks: set })
  if (algProblem) throw new InvalidClientMetadata(algProblem)
  return {
    tokenEndpointAuthMethod: method === PRIVATE_KEY_JWT ? PRIVATE_KEY_JWT : null,
    jwks: set,
    jwksUri: (jwksUri as string | undefined) ?? null,
    tokenEndpointAuthSigningAlg: (assertionAlg as string | undefined) ?? null,
    requestObjectSigningAlg: (requestObjectAlg as string | undefined) ?? null,
  }
}

/**
 * Checks a registration request against the policy (RFC 7591 §3.2.2 errors); the client it
 * describes. `knownGrants` are the grants this server serves.
 */
export function settingsFromRegistration (request: RegistrationRequest, policy: RegistrationPolicy, knownGrants: readonly string[]): RegisteredSettings {
  const method = request.token_endpoint_auth_method ?? 'client_secret_basic' // RFC 7591 §2 default
  if (typeof method !== 'string' || !policy.authMethods.includes(method)) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method must be one of ${policy.authMethods.join(', ')}`)
  }
  const grants = request.grant_types ?? ['authorization_code'] // RFC 7591 §2 default
  if (!isStringArray(grants) || grants.length === 0) throw new InvalidClientMetadata('grant_types must be a non-empty array of strings')
  for (const grant of grants) {
    if (!policy.grantTypes.includes(grant) || !knownGrants.includes(grant)) {
      throw new InvalidClientMetadata(`grant type ${grant.slice(0, 100)} is not available to registered clients; allowed: ${policy.grantTypes.join(', ')}`)
    }
  }
  const grantTypes = new Set(grants)
  if (grantTypes.has('authorization_code')) grantTypes.add('refresh_token')
  const codeFlow = grantTypes.has('authorization_code')
  // RFC 7591 §2.1: response_types and grant_types must agree; only "code" is served.
  const responseTypes = request.response_types ?? (codeFlow ? ['code'] : [])
  if (!isStringArray(responseTypes) || responseTypes.some((r) => r !== 'code')) throw new InvalidClientMetadata('response_types may only contain code')
  if (responseTypes.length && !codeFlow) throw new InvalidClientMetadata('response_types code needs the authorization_code grant')

  const redirectUris = request.redirect_uris ?? []
  if (!isStringArray(redirectUris)) throw new InvalidRedirectURI('redirect_uris must be an array of strings')
  if (codeFlow && redirectUris.length === 0) throw new InvalidRedirectURI('the authorization_code grant needs at least one redirect URI')
  if (redirectUris.length > policy.maxRedirectUris) throw new InvalidRedirectURI(`at most ${policy.maxRedirectUris} redirect URIs`)
  for (const uri of redirectUris) {
    const problem = redirectURIProblem(uri, policy)
    if (problem) throw new InvalidRedirectURI(`redirect URI ${uri.slice(0, 200)} is refused: ${problem}`)
  }

  if (request.scope !== undefined && typeof request.scope !== 'string') throw new InvalidClientMetadata('scope must be a space-separated string')
  const requestedScope = request.scope as string | undefined
  const refused = (requestedScope ?? '').split(' ').filter((s) => s && reserved(s, policy))
  if (refused.length) throw new InvalidClientMetadata(`scope not available to registered clients: ${refused.join(' ')}`)
  if (request.client_name !== undefined && (typeof request.client_name !== 'string' || request.client_name.length > 100)) {
    throw new InvalidClientMetadata('client_name must be a string of at most 100 characters')
  }
  // RFC 9449 §5.2: a client may register that it always uses DPoP (default false).
  const dpopBound = request.dpop_bound_access_tokens ?? false
  if (typeof dpopBound !== 'boolean') throw new InvalidClientMetadata('dpop_bound_access_tokens must be a boolean')
  // Stamp's own metadata (no registry entry): false keeps one refresh token per login (FAPI 2.0
  // §5.3.2.1). RFC 9700 §4.14.2: a public client's refresh tokens must then be sender-constrained.
  const rotation = request.refresh_token_rotation
  if (rotation !== undefined && typeof rotation !== 'boolean') throw new InvalidClientMetadata('refresh_token_rotation must be a boolean')
  if (rotation === false && method === 'none' && !dpopBound) throw new InvalidClientMetadata('a public client must rotate its refresh tokens unless dpop_bound_access_tokens is true (RFC 9700 §4.14.2)')
  const keys = registeredKeys(request, method)
  const metadata: Record<string, unknown> = { token_endpoint_auth_method: method }
  if (dpopBound) metadata.dpop_bound_access_tokens = true
  if (rotation === false) metadata.refresh_token_rotation = false
  for (const field of ECHOED_FIELDS) {
    const value = request[field]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.length > 500) throw new InvalidClientMetadata(`${field} must be a string of at most 500 characters`)
    if (field.endsWith('_uri') && !/^https:\/\//.test(value)) throw new InvalidClientMetadata(`${field} must be an https URL`)
    metadata[field] = value
  }
  const name = typeof request.client_name === 'string' && request.client_name.trim() ? request.client_name.trim() : 'Unnamed application'
  return {
    authMethod: method,
    client: {
      name,
      public: method === 'none',
      ...keys,
      firstParty: false,
      grantTypes: [...grantTypes],
      redirectUris: [...new Set(redirectUris)],
      postLogoutRedirectUris: [],
      backchannelLogoutUri: null,
      scopes: thirdPartyScopes(requestedScope, policy),
      audiences: [...policy.audiences],
      requirePkce: true,
      dpopBoundAccessTokens: dpopBound,
      refreshTokenRotation: rotation ?? null,
      origin: 'dcr',
      metadata,
    },
  }
}
