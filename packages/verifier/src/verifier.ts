/**
 * Offline verification of Stamp's RFC 9068 JWT access tokens, for resource servers.
 *
 * Pinned issuer, audience and algorithms; `typ` must be `at+jwt` (RFC 9068 §4, RFC 8725 §3.11), so
 * refresh tokens (`rt+jwt`) and ID tokens are refused even though Stamp signs them with the same
 * keys. Keys come from a {@link JWKSCache}, discovered from the issuer's metadata unless given.
 *
 * @module
 */
import { errors, jwtVerify, type JWTHeaderParameters, type JWTPayload, type JWTVerifyOptions } from 'jose'
import { discoverJWKSUri } from './discovery.js'
import {
  InsufficientScope, InsufficientUserAuthentication, StampVerifierError, TokenAlgorithmNotAllowed, TokenAudienceInvalid, TokenClaimInvalid,
  TokenExpired, TokenIssuerInvalid, TokenMalformed, TokenNotYetValid, TokenSignatureInvalid, TokenTypeInvalid,
} from './errors.js'
import { JWKSCache, type FetchLike } from './jwks_cache.js'
import { DPoPRequired, TokenDPoPBound, TokenNotDPoPBound } from './errors.js'
import { createDPoPChecker, type DPoPChecker, type DPoPOptions, type DPoPRequest } from './dpop.js'
import { authorizationCredentials } from './bearer.js'

/** RFC 9068 §2.2 access token claims, as Stamp issues them. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string
  /** The resource owner, or the client itself for client_credentials. */
  sub: string
  aud: string | string[]
  exp: number
  iat: number
  jti: string
  client_id: string
  /** Space-separated scopes (RFC 9068 §2.2.3). */
  scope?: string
  /** Seconds since the epoch when the user authenticated. */
  auth_time?: number
  /** RFC 9449 §6.1: the DPoP key thumbprint a bound token is bound to. */
  cnf?: { jkt?: string }
  /** The authentication context class the user's sign-in reached (RFC 9470 §3, OIDC Core §2). */
  acr?: string
}

/** What a route demands of the user's authentication behind a token (RFC 9470). */
export interface AuthenticationRequirement {
  /** Acceptable `acr` values (any one of them), in order of preference. */
  acrValues?: readonly string[]
  /** Largest acceptable age of the authentication (`auth_time`), in seconds. */
  maxAge?: number
}

export interface VerifierOptions {
  /** The issuer identifier; tokens must carry exactly this `iss`. */
  issuer: string
  /** This resource server's identifier(s); the token's `aud` must contain one of them. */
  audience: string | string[]
  /** Accepted JWS algorithms (default `['RS256']`); `none` and HMAC algorithms are refused. */
  algorithms?: string[]
  /** Seconds of clock skew tolerated for `exp`, `nbf` and `iat` (default 5). */
  clockTolerance?: number
  /** The JWKS URL; discovered from `<issuer>/.well-known/openid-configuration` when absent. */
  jwksUri?: string
  /** HTTP timeout for discovery and JWKS requests, in ms (default 5000). */
  timeout?: number
  /** Minimum ms between refetches caused by an unknown `kid` or a failure (default 30 000). */
  cooldown?: number
  /** Freshness of the JWKS when Stamp sends no `max-age`, in seconds (default 300). */
  defaultMaxAge?: number
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike
  /** Extra headers for discovery and JWKS requests. */
  headers?: Record<string, string>
  /** Clock in ms, for tests (default `Date.now`); used for claims and for the JWKS cache. */
  now?: () => number
  /**
   * Accept DPoP-bound tokens (RFC 9449 §7) with their proofs: `true` for the defaults, or
   * settings. Without it a DPoP-bound token is refused (it is never a bearer token).
   */
  dpop?: boolean | DPoPOptions
}

/** The parts of an HTTP request authentication reads. */
export interface RequestCredentials extends DPoPRequest {
  /** The `Authorization` header. */
  authorization: string | undefined
  /** The `DPoP` header (RFC 9449 §4.1). */
  dpop: string | string[] | undefined
}

export interface Verifier {
  /**
   * Verifies a compact JWS access token and returns its claims.
   *
   * @param token the bearer token, without the `Bearer ` prefix
   * @throws a {@link StampVerifierError} subclass; map it with `wwwAuthenticate()`
   */
  verify (token: string): Promise<AccessTokenClaims>
  /**
   * Verifies a DPoP-bound access token with its proof for `request` (RFC 9449 §7.1): the token
   * as {@link Verifier.verify} does, then the proof (method, URL, `ath`, key = `cnf.jkt`, fresh
   * `iat`, unused `jti`, nonce when configured).
   *
   * @throws a {@link StampVerifierError} subclass; DPoP ones have `scheme` `DPoP`
   */
  verifyDPoP (token: string, proof: string | string[] | undefined, request: DPoPRequest): Promise<AccessTokenClaims>
  /**
   * Authenticates a request from its `Authorization` (Bearer or DPoP) and `DPoP` headers: the
   * helpers' one entry point.
   */
  verifyRequest (credentials: RequestCredentials): Promise<AccessTokenClaims>
  /** The DPoP settings in force; undefined when DPoP is not accepted. */
  readonly dpop: DPoPChecker | undefined
  /** The key cache (counters in `jwks.stats`). */
  readonly jwks: JWKSCache
  readonly issuer: string
  readonly audience: readonly string[]
}

// Symmetric or absent signatures can never be verified with a public JWKS; refuse to configure them.
const FORBIDDEN_ALGS = /^(none|HS\d+)$/i

/**
 * Creates a verifier for Stamp access tokens.
 *
 * @param options issuer, audience, algorithms, clock tolerance, JWKS location and fetch settings
 * @returns an object whose `verify(token)` resolves to the token's claims or throws a
 *   {@link StampVerifierError}
 * @example
 * ```ts
 * import { createVerifier, wwwAuthenticate } from 'stamp-verifier'
 *
 * const verifier = createVerifier({ issuer: 'https://stamp.example', audience: 'https://orders.example' })
 * const claims = await verifier.verify(token)
 * console.log(claims.sub, claims.scope)
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-4 RFC 9068 §4 Validating JWT Access Tokens}
 */
export function createVerifier (options: VerifierOptions): Verifier {
  const { issuer } = options
  if (typeof issuer !== 'string' || !/^https?:\/\//.test(issuer)) throw new TypeError('issuer must be an http(s) URL')
  const audience = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])]
  if (!audience.length || audience.some((a) => typeof a !== 'string' || !a)) throw new TypeError('audience must be a non-empty string or array of strings')
  const algorithms = options.algorithms ?? ['RS256']
  if (!algorithms.length || algorithms.some((a) => FORBIDDEN_ALGS.test(a))) throw new TypeError('algorithms must be a non-empty list of asymmetric JWS algorithms')
  const clockTolerance = options.clockTolerance ?? 5
  if (!(clockTolerance >= 0)) throw new TypeError('clockTolerance must be a number of seconds ≥ 0')
  const now = options.now

  const jwks = new JWKSCache({
    uri: options.jwksUri ?? (() => discoverJWKSUri(issuer, options)),
    timeout: options.timeout,
    cooldown: options.cooldown,
    defaultMaxAge: options.defaultMaxAge,
    fetch: options.fetch,
    headers: options.headers,
    now,
  })

  const verifyOptions: JWTVerifyOptions = {
    issuer,
    audience,
    algorithms,
    clockTolerance,
    // RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt or
    // application/at+jwt"; jose accepts both spellings.
    typ: 'at+jwt',
    // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat and jti are REQUIRED.
    requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id'],
  }
  const getKey = (header: JWTHeaderParameters) => jwks.getKey(header.kid, header.alg)
  const dpop = options.dpop ? createDPoPChecker(options.dpop === true ? {} : options.dpop, now) : undefined

  async function verifyToken (token: string): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || !token) throw new TokenMalformed()
    let payload: JWTPayload
    try {
      const options = now ? { ...verifyOptions, currentDate: new Date(now()) } : verifyOptions
      payload = (await jwtVerify(token, getKey, options)).payload
    } catch (err) {
      throw toVerifierError(err)
    }
    if (typeof payload.sub !== 'string') throw new TokenClaimInvalid('sub')
    if (typeof payload.jti !== 'string') throw new TokenClaimInvalid('jti')
    if (typeof payload.client_id !== 'string') throw new TokenClaimInvalid('client_id')
    if (payload.scope !== undefined && typeof payload.scope !== 'string') throw new TokenClaimInvalid('scope')
    if (payload.acr !== undefined && typeof payload.acr !== 'string') throw new TokenClaimInvalid('acr')
    if (payload.auth_time !== undefined && typeof payload.auth_time !== 'number') throw new TokenClaimInvalid('auth_time')
    // jose checks iat only with maxTokenAge; a token issued in the future is not valid yet either.
    if (payload.iat! > (now ? now() : Date.now()) / 1000 + clockTolerance) throw new TokenNotYetValid()
    return payload as AccessTokenClaims
  }

  /** The bound key's thumbprint, when the token has one. */
  const boundKey = (claims: AccessTokenClaims): string | undefined => {
    const cnf = claims.cnf
    if (cnf === undefined) return undefined
    if (!cnf || typeof cnf !== 'object' || typeof cnf.jkt !== 'string') throw new TokenClaimInvalid('cnf')
    return cnf.jkt
  }

  async function verify (token: string): Promise<AccessTokenClaims> {
    const claims = await verifyToken(token)
    // RFC 9449 §7.2: a DPoP-bound token is never accepted as a bearer token.
    if (boundKey(claims) !== undefined) throw new TokenDPoPBound()
    if (dpop?.required) throw new DPoPRequired()
    return claims
  }

  async function verifyDPoP (token: string, proof: string | string[] | undefined, request: DPoPRequest): Promise<AccessTokenClaims> {
    if (!dpop) throw new TypeError('this verifier does not accept DPoP (set the dpop option)')
    let claims: AccessTokenClaims
    try {
      claims = await verifyToken(token)
    } catch (err) {
      // The error goes with the scheme the client used.
      if (err instanceof StampVerifierError) err.scheme = 'DPoP'
      throw err
    }
    const jkt = boundKey(claims)
    if (jkt === undefined) throw new TokenNotDPoPBound()
    await dpop.check(proof, request, token, jkt)
    return claims
  }

  async function verifyRequest (credentials: RequestCredentials): Promise<AccessTokenClaims> {
    const { scheme, token } = authorizationCredentials(credentials.authorization, dpop !== undefined)
    return scheme === 'DPoP' ? verifyDPoP(token, credentials.dpop, credentials) : verify(token)
  }

  return { verify, verifyDPoP, verifyRequest, dpop, jwks, issuer, audience }
}

/**
 * The scopes of a verified token, from its space-separated `scope` claim (RFC 9068 §2.2.3).
 *
 * @param claims verified claims
 */
export function scopesOf (claims: Pick<AccessTokenClaims, 'scope'>): Set<string> {
  return new Set(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [])
}

/**
 * Checks that a verified token carries every one of `required` scopes.
 *
 * @param claims verified claims
 * @param required scopes the resource needs (all of them)
 * @throws {@link InsufficientScope} naming `required`
 * @example
 * ```ts
 * assertScopes(await verifier.verify(token), ['orders:read'])
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 RFC 6750 §3.1 insufficient_scope}
 */
export function assertScopes (claims: Pick<AccessTokenClaims, 'scope'>, required: readonly string[]): void {
  const granted = scopesOf(claims)
  if (!required.every((s) => granted.has(s))) throw new InsufficientScope(required)
}

/**
 * Checks that the user's authentication behind a verified token meets `requirement`: its `acr`
 * is one of `acrValues`, and its `auth_time` is at most `maxAge` seconds old (a token without
 * `auth_time` fails a `maxAge`).
 *
 * @param claims verified claims
 * @param requirement acceptable acr values and/or maximum authentication age
 * @param now clock in ms (default `Date.now()`)
 * @throws {@link InsufficientUserAuthentication} naming the requirement (RFC 9470 §3)
 * @example
 * ```ts
 * assertAuthentication(await verifier.verify(token), { acrValues: ['urn:stamp:acr:mfa'], maxAge: 300 })
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc9470#section-3 RFC 9470 §3}
 */
export function assertAuthentication (claims: Pick<AccessTokenClaims, 'acr' | 'auth_time'>, requirement: AuthenticationRequirement, now = Date.now()): void {
  const { acrValues, maxAge } = requirement
  if (acrValues?.length && (typeof claims.acr !== 'string' || !acrValues.includes(claims.acr))) {
    throw new InsufficientUserAuthentication(requirement, 'a stronger authentication is required')
  }
  if (maxAge !== undefined && (typeof claims.auth_time !== 'number' || now / 1000 - claims.auth_time > maxAge)) {
    throw new InsufficientUserAuthentication(requirement, 'a more recent authentication is required')
  }
}

/** Throws a TypeError for a malformed requirement (at route definition, not per request). */
export function checkRequirement (requirement: AuthenticationRequirement): void {
  if (requirement.acrValues !== undefined && (!Array.isArray(requirement.acrValues) || requirement.acrValues.some((v) => typeof v !== 'string' || !v || v.includes(' ')))) {
    throw new TypeError('acrValues must be a list of acr values')
  }
  if (requirement.maxAge !== undefined && !(Number.isInteger(requirement.maxAge) && requirement.maxAge >= 0)) throw new TypeError('maxAge must be a whole number of seconds ≥ 0')
}

/** Translates jose's errors into the verifier's own, keeping the original as `cause`. */
function toVerifierError (err: unknown): StampVerifierError {
  if (err instanceof StampVerifierError) return err
  const options = { cause: err }
  if (err instanceof errors.JWTExpired) return new TokenExpired(undefined, options)
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf': return new TokenNotYetValid(undefined, options)
      case 'iss': return new TokenIssuerInvalid(undefined, options)
      case 'aud': return new TokenAudienceInvalid(undefined, options)
      case 'typ': return new TokenTypeInvalid(undefined, options)
      default: return new TokenClaimInvalid(err.claim, options)
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return new TokenAlgorithmNotAllowed(undefined, options)
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenSignatureInvalid(undefined, options)
  return new TokenMalformed(undefined, options)
}
