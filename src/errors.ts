/**
 * OAuth 2.0 error model (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009, RFC 8707).
 *
 * Only `error` and `error_description` ever reach the wire; `detail` is for logs.
 * This module imports nothing, so every layer can throw these.
 *
 * @module
 */

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'access_denied'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  /** RFC 9101 §6.3 */
  | 'invalid_request_object'
  | 'invalid_request_uri'
  | 'unsupported_response_type'
  | 'temporarily_unavailable'
  | 'server_error'
  /** RFC 7591 §3.2.2 */
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  /** RFC 8628 §3.5 device access token errors */
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  /** RFC 9449 §5, §7.1, §8 */
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'

export interface OAuthErrorOptions {
  cause?: unknown
  /** Internal detail for the log; never sent to the client. */
  detail?: string
  /** Extra response headers, e.g. `WWW-Authenticate`. */
  headers?: Record<string, string>
}

/**
 * RFC 6749 §5.2: `error_description` is `1*( %x20-21 / %x23-5B / %x5D-7E )` — printable ASCII
 * without `"` and `\` (§4.1.2.1 and RFC 6750 §3 use the same set). Descriptions may echo client
 * input, so every one is mapped into the set here: quotes become `'`, backslashes `/`, anything
 * else outside it `?`; never empty, at most 512 characters.
 */
export function errorDescription (text: string): string {
  const safe = text.slice(0, 512).replace(/"/g, "'").replace(/\\/g, '/').replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/gu, '?')
  return safe || 'error'
}

export class OAuthError extends Error {
  readonly error: OAuthErrorCode
  readonly statusCode: number
  readonly description: string
  readonly detail?: string
  readonly headers: Record<string, string>
  /** server_error descriptions are generic; everything else is safe to show. */
  readonly expose: boolean

  constructor (error: OAuthErrorCode, statusCode: number, description: string, options: OAuthErrorOptions = {}) {
    super(description, { cause: options.cause })
    this.name = 'OAuthError'
    this.error = error
    this.statusCode = statusCode
    this.description = errorDescription(description)
    this.detail = options.detail
    this.headers = options.headers ?? {}
    this.expose = statusCode < 500
  }
}

function subclass (code: OAuthErrorCode, status: number) {
  return class extends OAuthError {
    constructor (description: string, options?: OAuthErrorOptions) {
      super(code, status, description, options)
    }
  }
}

export const InvalidRequest = subclass('invalid_request', 400)
/** RFC 6749 §5.2: 401, with `WWW-Authenticate` when the client used the Authorization header. */
export const InvalidClient = subclass('invalid_client', 401)
export const InvalidGrant = subclass('invalid_grant', 400)
export const UnauthorizedClient = subclass('unauthorized_client', 400)
export const UnsupportedGrantType = subclass('unsupported_grant_type', 400)
export const UnsupportedTokenType = subclass('unsupported_token_type', 400)
export const InvalidScope = subclass('invalid_scope', 400)
export const InvalidTarget = subclass('invalid_target', 400)
export const InvalidToken = subclass('invalid_token', 401)
export const InsufficientScope = subclass('insufficient_scope', 403)
export const AccessDenied = subclass('access_denied', 403)
export const ServerError = subclass('server_error', 500)
/**
 * Rate limits and login back-off: 429 (RFC 6585 §4) with `Retry-After`. RFC 6749 registers
 * `temporarily_unavailable` for the authorization endpoint; it is the closest registered code.
 */
export const TemporarilyUnavailable = subclass('temporarily_unavailable', 429)
/** OIDC Core §3.1.2.6: prompt=none and the user is not signed in. */
export const LoginRequired = subclass('login_required', 400)
/** OIDC Core §3.1.2.6: prompt=none and the user has not approved this client. */
export const ConsentRequired = subclass('consent_required', 400)
export const UnsupportedResponseType = subclass('unsupported_response_type', 400)
export const RequestNotSupported = subclass('request_not_supported', 400)
export const RequestURINotSupported = subclass('request_uri_not_supported', 400)
/** RFC 9101 §6.3: the request object is unsigned, badly signed, expired or inconsistent. */
export const InvalidRequestObject = subclass('invalid_request_object', 400)
/** RFC 9101 §6.3: the request_uri is unknown, used already or expired (RFC 9126 §4). */
export const InvalidRequestURI = subclass('invalid_request_uri', 400)
/**
 * A dependency (PostgreSQL) cannot be reached: 503 (RFC 9110 §15.6.4) with `Retry-After`, so
 * clients and proxies retry later instead of treating it as a failure of their request.
 */
export const ServiceUnavailable = subclass('temporarily_unavailable', 503)
/** RFC 7591 §3.2.2: a redirect URI the registration policy refuses. */
export const InvalidRedirectURI = subclass('invalid_redirect_uri', 400)
/** RFC 7591 §3.2.2: some other client metadata value is invalid or refused. */
export const InvalidClientMetadata = subclass('invalid_client_metadata', 400)
/** RFC 8628 §3.5: the token endpoint's answers while a device authorization is not (yet) approved. */
export const AuthorizationPending = subclass('authorization_pending', 400)
export const SlowDown = subclass('slow_down', 400)
export const ExpiredToken = subclass('expired_token', 400)
/** RFC 8628 §3.5 access_denied at the token endpoint: an RFC 6749 §5.2 error, so 400. */
export const DeviceAccessDenied = subclass('access_denied', 400)
/** RFC 9449 §5: the DPoP proof is missing where required, malformed or invalid (400 at /token). */
export const InvalidDPoPProof = subclass('invalid_dpop_proof', 400)
/** RFC 9449 §8: the proof must carry the server's nonce, sent in the `DPoP-Nonce` header. */
export const UseDPoPNonce = subclass('use_dpop_nonce', 400)
