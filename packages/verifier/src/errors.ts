/**
 * Verifier errors: one class per reason a bearer token is refused, each with a stable `code`
 * (as jose's `JWTExpired` carries `ERR_JWT_EXPIRED`), the RFC 6750 §3.1 error code and HTTP
 * status it maps to, and a fixed, safe `description`. The underlying jose error, when there is one,
 * is kept as `cause` for logs and never reaches the wire.
 *
 * @module
 */

/** Stable codes, a literal union so `switch (err.code)` narrows. */
export type StampVerifierErrorCode =
  | 'ERR_STAMP_TOKEN_MISSING'
  | 'ERR_STAMP_REQUEST_INVALID'
  | 'ERR_STAMP_TOKEN_MALFORMED'
  | 'ERR_STAMP_TOKEN_SIGNATURE_INVALID'
  | 'ERR_STAMP_TOKEN_ALG_NOT_ALLOWED'
  | 'ERR_STAMP_TOKEN_TYPE_INVALID'
  | 'ERR_STAMP_TOKEN_ISSUER_INVALID'
  | 'ERR_STAMP_TOKEN_AUDIENCE_INVALID'
  | 'ERR_STAMP_TOKEN_CLAIM_INVALID'
  | 'ERR_STAMP_TOKEN_EXPIRED'
  | 'ERR_STAMP_TOKEN_NOT_YET_VALID'
  | 'ERR_STAMP_KEY_NOT_FOUND'
  | 'ERR_STAMP_JWKS_UNAVAILABLE'
  | 'ERR_STAMP_INSUFFICIENT_SCOPE'
  | 'ERR_STAMP_INSUFFICIENT_USER_AUTHENTICATION'
  | 'ERR_STAMP_TOKEN_DPOP_BOUND'
  | 'ERR_STAMP_TOKEN_NOT_DPOP_BOUND'
  | 'ERR_STAMP_DPOP_REQUIRED'
  | 'ERR_STAMP_DPOP_PROOF_INVALID'
  | 'ERR_STAMP_DPOP_NONCE_REQUIRED'

/**
 * RFC 6750 §3.1 error codes, plus `temporarily_unavailable` (RFC 6749 §4.1.2.1) for when the
 * keys cannot be fetched: that is the server's fault, and a client must not throw its token away.
 */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'insufficient_user_authentication' | 'temporarily_unavailable' | 'invalid_dpop_proof' | 'use_dpop_nonce'

/** The authentication scheme whose challenge carries an error (RFC 9449 §7.1). */
export type AuthScheme = 'Bearer' | 'DPoP'

export interface StampVerifierErrorOptions { cause?: unknown }

/**
 * Base class of every error the verifier throws.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 RFC 6750 §3.1}
 */
export class StampVerifierError extends Error {
  /** Stable machine-readable code. */
  readonly code: StampVerifierErrorCode = 'ERR_STAMP_TOKEN_MALFORMED'
  /** The RFC 6750 error code for `WWW-Authenticate` and the JSON body; absent for a missing token. */
  readonly error: BearerErrorCode | undefined = 'invalid_token'
  /** HTTP status a resource server answers with. */
  readonly statusCode: number = 401
  /** The scheme whose challenge carries the error: the one the request used (RFC 9449 §7.1). */
  scheme: AuthScheme = 'Bearer'
  /** Safe to send to the client: fixed text, no token contents or key ids. */
  readonly description: string

  constructor (description: string, options: StampVerifierErrorOptions = {}) {
    super(description, { cause: options.cause })
    this.name = new.target.name
    this.description = description
  }
}

/** RFC 6750 §3.1: "If the request lacks any authentication information … SHOULD NOT include an error code". */
export class TokenMissing extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_MISSING'
  override readonly error = undefined
  constructor (description = 'a bearer access token is required', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** A malformed `Authorization: Bearer` header (RFC 6750 §2.1 syntax): 400 invalid_request. */
export class RequestInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_REQUEST_INVALID'
  override readonly error = 'invalid_request'
  override readonly statusCode = 400
  constructor (description = 'the Authorization header is not a valid bearer credential', options?: StampVerifierErrorOptions) { super(description, options) }
}

export class TokenMalformed extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_MALFORMED'
  constructor (description = 'the access token is malformed', options?: StampVerifierErrorOptions) { super(description, options) }
}

export class TokenSignatureInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_SIGNATURE_INVALID'
  constructor (description = 'the access token signature is invalid', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** The `alg` header is not in the pinned list (this is what stops `none` and HS256 key confusion). */
export class TokenAlgorithmNotAllowed extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_ALG_NOT_ALLOWED'
  constructor (description = 'the access token is signed with an algorithm that is not accepted', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** RFC 9068 §4: the `typ` header must be `at+jwt`; refresh tokens and ID tokens end here. */
export class TokenTypeInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_TYPE_INVALID'
  constructor (description = 'the token is not an access token', options?: StampVerifierErrorOptions) { super(description, options) }
}

export class TokenIssuerInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_ISSUER_INVALID'
  constructor (description = 'the access token was issued by another issuer', options?: StampVerifierErrorOptions) { super(description, options) }
}

export class TokenAudienceInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_AUDIENCE_INVALID'
  constructor (description = 'the access token is not intended for this resource', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** A required claim is missing or has the wrong type. */
export class TokenClaimInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_CLAIM_INVALID'
  /** The offending claim name. */
  readonly claim: string
  constructor (claim: string, options?: StampVerifierErrorOptions) {
    super(`the access token has a missing or invalid "${claim}" claim`, options)
    this.claim = claim
  }
}

export class TokenExpired extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_EXPIRED'
  constructor (description = 'the access token expired', options?: StampVerifierErrorOptions) { super(description, options) }
}

export class TokenNotYetValid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_NOT_YET_VALID'
  constructor (description = 'the access token is not valid yet', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** No published key has the token's `kid`, even after the (rate-limited) refetch. */
export class KeyNotFound extends StampVerifierError {
  override readonly code = 'ERR_STAMP_KEY_NOT_FOUND'
  constructor (description = 'the access token is signed with an unknown key', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** The JWKS could not be fetched and nothing usable is cached: 503, the token may well be fine. */
export class JWKSUnavailable extends StampVerifierError {
  override readonly code = 'ERR_STAMP_JWKS_UNAVAILABLE'
  override readonly error = 'temporarily_unavailable'
  override readonly statusCode = 503
  constructor (description = 'the token signing keys are temporarily unavailable', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** RFC 6750 §3.1 insufficient_scope: 403, with the scopes the request needed. */
export class InsufficientScope extends StampVerifierError {
  override readonly code = 'ERR_STAMP_INSUFFICIENT_SCOPE'
  override readonly error = 'insufficient_scope'
  override readonly statusCode = 403
  /** The scopes the resource requires (all of them). */
  readonly scopes: readonly string[]
  constructor (scopes: readonly string[], options?: StampVerifierErrorOptions) {
    super(`the access token lacks the required scope: ${scopes.join(' ')}`, options)
    this.scopes = scopes
  }
}

/**
 * RFC 9470 §3 insufficient_user_authentication: the token is valid, but the user's
 * authentication behind it is not strong enough (`acr_values`) or too old (`max_age`). 401, so
 * the client sends the user to the authorization server again with these parameters.
 */
export class InsufficientUserAuthentication extends StampVerifierError {
  override readonly code = 'ERR_STAMP_INSUFFICIENT_USER_AUTHENTICATION'
  override readonly error = 'insufficient_user_authentication'
  override readonly statusCode = 401
  /** Acceptable authentication context classes, in order of preference. */
  readonly acrValues: readonly string[] | undefined
  /** Largest acceptable age of the authentication, in seconds. */
  readonly maxAge: number | undefined
  constructor (requirement: { acrValues?: readonly string[], maxAge?: number }, description?: string, options?: StampVerifierErrorOptions) {
    super(description ?? (requirement.acrValues?.length ? 'a stronger authentication is required' : 'a more recent authentication is required'), options)
    this.acrValues = requirement.acrValues?.length ? requirement.acrValues : undefined
    this.maxAge = requirement.maxAge
  }
}

/** A DPoP-bound token (`cnf.jkt`) presented as a bearer token: RFC 9449 §7.2 forbids accepting it. */
export class TokenDPoPBound extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_DPOP_BOUND'
  constructor (description = 'the access token is DPoP-bound: present it with the DPoP scheme and a proof', options?: StampVerifierErrorOptions) { super(description, options) }
}

/** The DPoP scheme with a token that is not bound to a key. */
export class TokenNotDPoPBound extends StampVerifierError {
  override readonly code = 'ERR_STAMP_TOKEN_NOT_DPOP_BOUND'
  constructor (description = 'the access token is not DPoP-bound', options?: StampVerifierErrorOptions) {
    super(description, options)
    this.scheme = 'DPoP'
  }
}

/** A bearer token where only DPoP-bound tokens are accepted (`dpop.required`). */
export class DPoPRequired extends StampVerifierError {
  override readonly code = 'ERR_STAMP_DPOP_REQUIRED'
  constructor (description = 'this resource accepts only DPoP-bound access tokens', options?: StampVerifierErrorOptions) {
    super(description, options)
    this.scheme = 'DPoP'
  }
}

/** RFC 9449 §7.1 `invalid_dpop_proof`: the proof is missing, malformed, for another request, stale, replayed or by another key. */
export class DPoPProofInvalid extends StampVerifierError {
  override readonly code = 'ERR_STAMP_DPOP_PROOF_INVALID'
  override readonly error = 'invalid_dpop_proof'
  constructor (description = 'the DPoP proof is invalid', options?: StampVerifierErrorOptions) {
    super(description, options)
    this.scheme = 'DPoP'
  }
}

/** RFC 9449 §9 `use_dpop_nonce`: retry with `nonce`, sent in the `DPoP-Nonce` header. */
export class DPoPNonceRequired extends StampVerifierError {
  override readonly code = 'ERR_STAMP_DPOP_NONCE_REQUIRED'
  override readonly error = 'use_dpop_nonce'
  /** The nonce the client must put in its next proof. */
  readonly nonce: string
  constructor (nonce: string, description = 'a DPoP nonce is required', options?: StampVerifierErrorOptions) {
    super(description, options)
    this.scheme = 'DPoP'
    this.nonce = nonce
  }
}

export interface WWWAuthenticateOptions {
  /** RFC 6750 §3 `realm`; omitted when not given. */
  realm?: string
  /** RFC 9728 §5.1 `resource_metadata`: the URL of this resource's protected-resource metadata. */
  resourceMetadata?: string
  /**
   * Scopes the request needs, when known (RFC 6750 §3 `scope`), also on a 401 so a client asks for
   * them up front (RFC 9728 §5.1, the MCP authorization spec); an {@link InsufficientScope} error
   * always names its own. The helpers pass it only for a protected resource (`resource` set).
   */
  scope?: readonly string[]
  /**
   * DPoP accepted (RFC 9449 §7.1): a `DPoP algs="…"` challenge is added, after the Bearer one
   * unless `required` (DPoP only); the error goes into the challenge of the scheme used.
   */
  dpop?: { algorithms: readonly string[], required?: boolean }
}

/**
 * Builds the RFC 6750 §3 `WWW-Authenticate` value for a verifier error, e.g.
 * `Bearer realm="orders", error="invalid_token", error_description="the access token expired"`.
 * A missing token yields the bare challenge (§3.1: no error code). Errors other than
 * {@link StampVerifierError} are treated as `invalid_token` with a generic description.
 *
 * @param err the error `verify()` threw
 * @param options realm
 * @returns the header value
 * @example
 * ```ts
 * try { request.auth = await verifier.verify(token) } catch (err) {
 *   reply.code(statusOf(err)).header('www-authenticate', wwwAuthenticate(err, { realm: 'orders' }))
 * }
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 */
export function wwwAuthenticate (err: unknown, options: WWWAuthenticateOptions = {}): string {
  const e = err instanceof StampVerifierError ? err : new TokenMalformed('the access token is invalid', { cause: err })
  const params = (scheme: AuthScheme): string[] => {
    const list: string[] = []
    if (options.realm !== undefined) list.push(`realm=${quote(options.realm)}`)
    // RFC 9449 §7.1: `algs` lists the proof algorithms accepted.
    if (scheme === 'DPoP') list.push(`algs=${quote(options.dpop!.algorithms.join(' '))}`)
    const own = e.scheme === scheme || (scheme === 'DPoP' && options.dpop?.required === true)
    if (own && e.error && e.error !== 'temporarily_unavailable') {
      list.push(`error=${quote(e.error)}`, `error_description=${quote(e.description)}`)
    }
    // §3: "scope" lists the scopes necessary to access the resource.
    const scope = e instanceof InsufficientScope ? e.scopes : options.scope
    if (scope?.length && e.error !== 'temporarily_unavailable') list.push(`scope=${quote(scope.join(' '))}`)
    // RFC 9470 §3: what the client must ask the authorization server for.
    if (e instanceof InsufficientUserAuthentication) {
      if (e.acrValues) list.push(`acr_values=${quote(e.acrValues.join(' '))}`)
      if (e.maxAge !== undefined) list.push(`max_age=${quote(String(e.maxAge))}`)
    }
    // RFC 9728 §5.1: the challenge tells a client that knows nothing but this URL where to start.
    if (options.resourceMetadata !== undefined) list.push(`resource_metadata=${quote(options.resourceMetadata)}`)
    return list
  }
  const challenge = (scheme: AuthScheme) => {
    const list = params(scheme)
    return list.length ? `${scheme} ${list.join(', ')}` : scheme
  }
  if (!options.dpop) return challenge('Bearer')
  return options.dpop.required ? challenge('DPoP') : `${challenge('Bearer')}, ${challenge('DPoP')}`
}

/**
 * The JSON body a resource server answers a refused request with: `{ error, error_description }`.
 *
 * @param err the error `verify()` or `requireScope` threw
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 RFC 6750 §3.1}
 */
export function errorBody (err: unknown): { statusCode: number, error: string, error_description: string } {
  const e = err instanceof StampVerifierError ? err : new TokenMalformed('the access token is invalid', { cause: err })
  return { statusCode: e.statusCode, error: e.error ?? 'invalid_token', error_description: e.description }
}

// RFC 6750 §3: error_description and scope values exclude '"' and '\' (and controls).
function quote (value: string): string {
  return `"${value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '')}"`
}
