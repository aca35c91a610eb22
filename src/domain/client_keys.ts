/**
 * The public keys a client signs with: its registered `jwks` (RFC 7591 §2), or the set at its
 * `jwks_uri`, fetched through the SSRF-hardened fetcher Stamp hands in (timeout, size limit),
 * cached per instance, and refetched once on an unknown `kid` (a client that rotated its keys) —
 * at most once per cooldown, so an attacker sending made-up `kid`s cannot make Stamp fetch in a
 * loop. Used for private_key_jwt client assertions and signed request objects alike.
 *
 * Only public keys are ever accepted: a set carrying private members (`d`, `k`, …) is refused at
 * registration and when fetched, and symmetric (`oct`) keys do not exist here, so HMAC cannot be
 * used. Each key type is pinned to the algorithms that belong to it (jose matches `kty`/`crv`
 * against the header's `alg`): RSA for RS256/PS256, P-256 for ES256, Ed25519 for EdDSA.
 *
 * @module
 */
import { createLocalJWKSet, errors, jwtVerify, type JWK, type JWTVerifyOptions, type JWTVerifyResult } from 'jose'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord } from '../storage/types.js'
import type { DocumentFetcher } from './client_metadata.js'

/** RFC 7518 asymmetric algorithms Stamp accepts from clients; never `none` nor HMAC. */
export const CLIENT_SIGNING_ALGS: readonly string[] = ['RS256', 'PS256', 'ES256', 'EdDSA']
/** The registered method name of JWT client authentication (RFC 7591 §2, OIDC Core §9). */
export const PRIVATE_KEY_JWT = 'private_key_jwt'
/** The FAPI 2.0 Security Profile, as a client's `profile`. */
export const FAPI2_PROFILE = 'fapi2'
/** FAPI 2.0 Security Profile §5.4.1: "PS256, ES256 or EdDSA (using the Ed25519 variant)". */
export const FAPI2_SIGNING_ALGS: readonly string[] = ['PS256', 'ES256', 'EdDSA']

const KEY_TYPE_OF: Readonly<Record<string, string>> = { RS256: 'RSA', PS256: 'RSA', ES256: 'EC', EdDSA: 'OKP' }

/** What a client's JWTs may be signed with (OIDC Core §9, RFC 9101 §10.4); see {@link signingAlgorithms}. */
export type SigningUse = 'assertion' | 'request_object'

/**
 * The algorithms a client's client assertions or request objects may use: the one it registered
 * (OpenID Connect Dynamic Client Registration 1.0 §2, `token_endpoint_auth_signing_alg` and
 * `request_object_signing_alg`: JWTs "MUST be rejected, if not signed with this algorithm"), else
 * its profile's, else all of {@link CLIENT_SIGNING_ALGS}.
 */
export function signingAlgorithms (client: Pick<ClientRecord, 'profile' | 'tokenEndpointAuthSigningAlg' | 'requestObjectSigningAlg'>, use: SigningUse): string[] {
  const pinned = use === 'assertion' ? client.tokenEndpointAuthSigningAlg : client.requestObjectSigningAlg
  if (pinned) return [pinned]
  return [...(client.profile === FAPI2_PROFILE ? FAPI2_SIGNING_ALGS : CLIENT_SIGNING_ALGS)]
}

/**
 * Why a client cannot register these signing algorithms (undefined when it can; an undefined
 * algorithm is none registered, anything else is checked), for the admin API, the CLI and
 * /register alike: the assertion algorithm
 * only with private_key_jwt (OIDC Dynamic Client Registration §2), each an algorithm Stamp accepts
 * (the fapi2 profile's only, FAPI 2.0 Security Profile §5.4.1) and, when the keys are inline, one
 * that at least one of them can be used with.
 */
export function signingAlgsProblem (client: { tokenEndpointAuthSigningAlg?: unknown, requestObjectSigningAlg?: unknown, method: string | null, profile?: string | null, jwks?: { keys: JWK[] } | null }): string | undefined {
  const { tokenEndpointAuthSigningAlg: assertionAlg, requestObjectSigningAlg: requestObjectAlg } = client
  if (assertionAlg !== undefined && client.method !== PRIVATE_KEY_JWT) return 'token_endpoint_auth_signing_alg needs token_endpoint_auth_method private_key_jwt'
  if (assertionAlg !== undefined) {
    const problem = signingAlgProblem('token_endpoint_auth_signing_alg', assertionAlg, client)
    if (problem) return problem
  }
  return requestObjectAlg === undefined ? undefined : signingAlgProblem('request_object_signing_alg', requestObjectAlg, client)
}

function signingAlgProblem (field: string, alg: unknown, client: { profile?: string | null, jwks?: { keys: JWK[] } | null }): string | undefined {
  const allowed = client.profile === FAPI2_PROFILE ? FAPI2_SIGNING_ALGS : CLIENT_SIGNING_ALGS
  if (typeof alg !== 'string' || !allowed.includes(alg)) return `${field} must be one of ${allowed.join(', ')}`
  if (client.jwks && !client.jwks.keys.some((k) => k.kty === KEY_TYPE_OF[alg] && (k.alg === undefined || k.alg === alg))) {
    return `${field} ${alg}: no registered key can be used with it`
  }
  return undefined
}

/** A client's keys cannot be used (none registered, a bad set, a failed fetch); the message is safe to return. */
export class ClientKeysError extends Error {
  override name = 'ClientKeysError'
}

const COMMON_MEMBERS = ['kty', 'kid', 'alg', 'use', 'key_ops', 'x5c', 'x5t', 'x5t#S256']
const PUBLIC_MEMBERS: Record<string, string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] }
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']
/** Most keys a registered client JWKS may hold. */
export const MAX_CLIENT_KEYS = 20
/** 2048-bit modulus = 256 bytes = 342 base64url characters (RFC 7518 §3.3: "2048 bits or larger"). */
const MIN_RSA_MODULUS_CHARS = 342

/**
 * Checks a JWK Set a client registered or serves: public signing keys of the accepted types only.
 * Returns the set rebuilt from an allow-list of members (nothing else is kept or echoed).
 */
export function publicClientJWKS (value: unknown, maxKeys: number): { keys: JWK[] } {
  if (!value || typeof value !== 'object' || !Array.isArray((value as { keys?: unknown }).keys)) throw new ClientKeysError('a JWK Set is an object with a keys array')
  const keys = (value as { keys: unknown[] }).keys
  if (keys.length === 0) throw new ClientKeysError('the JWK Set has no keys')
  if (keys.length > maxKeys) throw new ClientKeysError(`the JWK Set has more than ${maxKeys} keys`)
  return {
    keys: keys.map((key, i) => {
      if (!key || typeof key !== 'object' || Array.isArray(key)) throw new ClientKeysError(`key ${i} is not a JSON object`)
      const jwk = key as Record<string, unknown>
      if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw new ClientKeysError(`key ${i} contains private key material; register public keys only`)
      const members = typeof jwk.kty === 'string' ? PUBLIC_MEMBERS[jwk.kty] : undefined
      if (!members) throw new ClientKeysError(`key ${i}: kty must be RSA, EC or OKP`)
      if (jwk.kty === 'EC' && jwk.crv !== 'P-256') throw new ClientKeysError(`key ${i}: EC keys must use P-256 (ES256)`)
      if (jwk.kty === 'OKP' && jwk.crv !== 'Ed25519') throw new ClientKeysError(`key ${i}: OKP keys must use Ed25519 (EdDSA)`)
      if (jwk.kty === 'RSA' && (typeof jwk.n !== 'string' || jwk.n.length < MIN_RSA_MODULUS_CHARS)) throw new ClientKeysError(`key ${i}: RSA keys must be at least 2048 bits`)
      if (jwk.use !== undefined && jwk.use !== 'sig') throw new ClientKeysError(`key ${i}: use must be sig`)
      if (jwk.alg !== undefined && !CLIENT_SIGNING_ALGS.includes(jwk.alg as string)) throw new ClientKeysError(`key ${i}: alg must be one of ${CLIENT_SIGNING_ALGS.join(', ')}`)
      const out: Record<string, unknown> = {}
      for (const m of [...COMMON_MEMBERS, ...members]) {
        if (jwk[m] === undefined) continue
        if (m !== 'x5c' && m !== 'key_ops' && typeof jwk[m] !== 'string') throw new ClientKeysError(`key ${i}: ${m} must be a string`)
        out[m] = jwk[m]
      }
      for (const m of members) if (typeof out[m] !== 'string') throw new ClientKeysError(`key ${i}: ${m} is missing`)
      return out as JWK
    }),
  }
}

type KeySet = ReturnType<typeof createLocalJWKSet>
type RemoteEntry = { keyset: KeySet, fetchedAt: number, expires: number } | { error: ClientKeysError, fetchedAt: number, expires: number }

export interface ClientKeysOptions {
  fetch: DocumentFetcher
  policy: Pick<Policy['clientKeys'], 'maxKeys' | 'jwksCacheSeconds' | 'jwksRefetchCooldown'>
  now?: () => number
}

export class ClientKeys {
  readonly #o: ClientKeysOptions
  readonly #inline = new WeakMap<object, KeySet>()
  readonly #remote = new Map<string, RemoteEntry>()
  readonly #inFlight = new Map<string, Promise<RemoteEntry>>()
  static readonly MAX_ENTRIES = 10_000
  /** Fetches done (for tests and metrics). */
  fetches = 0

  constructor (options: ClientKeysOptions) {
    this.#o = options
  }

  #now (): number { return this.#o.now?.() ?? Date.now() }

  /** Verifies `jwt` with the client's keys under `options` (jose's checks); throws jose errors or {@link ClientKeysError}. */
  async verify (jwt: string, client: ClientRecord, options: JWTVerifyOptions & { algorithms: string[] }): Promise<JWTVerifyResult> {
    if (client.jwks) {
      let keyset = this.#inline.get(client.jwks)
      if (!keyset) {
        keyset = createLocalJWKSet(client.jwks)
        this.#inline.set(client.jwks, keyset)
      }
      return jwtVerify(jwt, keyset, options)
    }
    if (!client.jwksUri) throw new ClientKeysError('the client has no registered keys (jwks or jwks_uri)')
    const cacheKey = `${client.id} ${client.jwksUri}`
    let entry = await this.#entry(cacheKey, client.jwksUri, false)
    try {
      return await jwtVerify(jwt, usable(entry), options)
    } catch (err) {
      // An unknown kid: the client may have rotated. Fetch once more, unless that was just done.
      if (!(err instanceof errors.JWKSNoMatchingKey) || this.#now() - entry.fetchedAt < this.#o.policy.jwksRefetchCooldown * 1000) throw err
      entry = await this.#entry(cacheKey, client.jwksUri, true)
      return jwtVerify(jwt, usable(entry), options)
    }
  }

  /** Drops a client's cached set (its registration changed). */
  forget (client: Pick<ClientRecord, 'id' | 'jwksUri'>): void {
    if (client.jwksUri) this.#remote.delete(`${client.id} ${client.jwksUri}`)
  }

  async #entry (cacheKey: string, uri: string, refetch: boolean): Promise<RemoteEntry> {
    const hit = this.#remote.get(cacheKey)
    if (hit && !refetch && hit.expires > this.#now()) return hit
    let pending = this.#inFlight.get(cacheKey)
    if (!pending) {
      pending = this.#fetch(uri).then((entry) => {
        if (this.#remote.size >= ClientKeys.MAX_ENTRIES) this.#remote.clear()
        this.#remote.set(cacheKey, entry)
        return entry
      }).finally(() => this.#inFlight.delete(cacheKey))
      this.#inFlight.set(cacheKey, pending)
    }
    return pending
  }

  async #fetch (uri: string): Promise<RemoteEntry> {
    const fetchedAt = this.#now()
    this.fetches++
    const { policy } = this.#o
    // A failure is remembered for the cooldown: a broken or hostile jwks_uri is not hammered.
    const failed = (message: string): RemoteEntry => ({ error: new ClientKeysError(message), fetchedAt, expires: fetchedAt + Math.max(1, policy.jwksRefetchCooldown) * 1000 })
    let url: URL
    try {
      url = new URL(uri)
    } catch {
      return failed('the client\'s jwks_uri is not a valid URL')
    }
    try {
      const response = await this.#o.fetch(url)
      if (response.status !== 200) return failed(`the client's JWKS could not be fetched (HTTP ${response.status})`)
      const set = publicClientJWKS(JSON.parse(response.body.toString('utf8')), policy.maxKeys)
      return { keyset: createLocalJWKSet(set), fetchedAt, expires: fetchedAt + policy.jwksCacheSeconds * 1000 }
    } catch (err) {
      if (err instanceof ClientKeysError) return failed(`the client's JWKS is refused: ${err.message}`)
      if (err instanceof SyntaxError) return failed('the client\'s JWKS is not valid JSON')
      return failed(`the client's JWKS could not be fetched: ${(err as Error).message}`)
    }
  }
}

function usable (entry: RemoteEntry): KeySet {
  if ('error' in entry) throw entry.error
  return entry.keyset
}

/** A short, safe description of why a signed JWT from a client was refused. */
export function refusalReason (err: unknown, what: string, algorithms: readonly string[] = CLIENT_SIGNING_ALGS): string {
  if (err instanceof ClientKeysError) return err.message
  if (err instanceof errors.JWTExpired) return `the ${what} has expired`
  if (err instanceof errors.JWTClaimValidationFailed) return `the ${what}'s ${err.claim} claim is invalid (${err.reason})`
  if (err instanceof errors.JOSEAlgNotAllowed) return `the ${what}'s signing algorithm is not allowed; use ${algorithms.length === 1 ? algorithms[0] : `one of ${algorithms.join(', ')}`}`
  if (err instanceof errors.JWKSNoMatchingKey) return `no registered key of the client matches the ${what} (kid, alg)`
  if (err instanceof errors.JWKSMultipleMatchingKeys) return `the ${what} names no kid and several registered keys match`
  if (err instanceof errors.JWSSignatureVerificationFailed) return `the ${what}'s signature is invalid`
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return `the ${what} is malformed`
  if (err instanceof errors.JOSENotSupported) return `the ${what} uses an unsupported algorithm or key`
  return `the ${what} is invalid`
}
