/**
 * DPoP proofs at a resource server (RFC 9449 §4.3, §7.1): a DPoP-bound access token (`cnf.jkt`)
 * is accepted only with a proof, signed by the bound key, for this very request (method, URL
 * without query and fragment, `ath` = hash of the token), issued within the accepted window, and
 * whose `jti` this process has not seen before. Optional server nonces (§9).
 *
 * The JWS itself is checked by {@link ProofJWSVerifier} (synchronous node:crypto, header and key
 * checked once per header text: clients reuse their key); the `jti` cache is bounded and forgets
 * an entry once its proof could no longer be accepted anyway.
 *
 * @module
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto'
import { DPoPNonceRequired, DPoPProofInvalid } from './errors.js'
import { ProofJWSVerifier } from './jws.js'

export { jwkThumbprint } from './jws.js'

/** §4.2: the `typ` of a proof. */
export const DPOP_PROOF_TYP = 'dpop+jwt'
/** The algorithms a proof may use by default: asymmetric only (§4.3 item 5). */
export const DPOP_DEFAULT_ALGORITHMS: readonly string[] = ['ES256', 'RS256', 'PS256', 'EdDSA']
const FORBIDDEN_ALGS = /^(none|HS\d+)$/i
const MAX_JTI_LENGTH = 128

/** Server nonces (§9): what the verifier hands out in `DPoP-Nonce` and accepts in proofs. */
export interface DPoPNonceSource {
  /** The nonce to hand out now. */
  current(): string
  /** Whether a proof's `nonce` is acceptable now. */
  accepts(nonce: unknown): boolean
}

export interface DPoPOptions {
  /** Proof algorithms accepted (default ES256, RS256, PS256, EdDSA); `none` and HMAC are refused. */
  algorithms?: string[]
  /** Seconds a proof's `iat` may differ from this clock (default 60); its `jti` is remembered that long. */
  proofWindow?: number
  /** Most `jti` values remembered at once (default 100 000); when full, the oldest go first. */
  replayCacheSize?: number
  /** Accept only DPoP-bound tokens: a bearer token is refused (RFC 9449 §7.1 `dpop_bound_access_tokens_required`). */
  required?: boolean
  /** Require server nonces in proofs (§9); see {@link createDPoPNonces}. */
  nonces?: DPoPNonceSource
}

/** The request a proof must be for. */
export interface DPoPRequest {
  /** HTTP method, e.g. `GET`. */
  method: string
  /** The public URL of the request; query and fragment are ignored (§4.3 item 9). */
  url: string
}

/**
 * Remembers proof `jti`s until they expire: bounded, oldest first out. Entries are inserted in
 * roughly increasing expiry order, so insertion order is the eviction order.
 *
 * Insertion order is kept in a ring of keys beside the Map, so each use costs O(1): iterating the
 * Map from its start (as before) walks over the slots of every deleted entry, which V8 keeps
 * until it rehashes, so once full each use got slower (tens of µs after a few 100k uses). The Map
 * holds each key's ring slot; a key accepted again after its expiry moves to a new slot, and the
 * old one, no longer owned, is skipped when it reaches the head.
 */
export class DPoPReplayCache {
  /** key → its ring slot. */
  readonly #slots = new Map<string, number>()
  readonly #keys: string[] = []
  readonly #expiries: number[] = []
  readonly #max: number
  #head = 0
  /** Ring slots in use, owned or not (≥ the Map's size, ≤ max). */
  #count = 0

  constructor (maxEntries = 100_000) {
    if (!(maxEntries >= 1)) throw new TypeError('replayCacheSize must be at least 1')
    this.#max = Math.floor(maxEntries)
  }

  /** True the first time `key` is seen (until `expiresAt`, ms); false for a replay. */
  use (key: string, expiresAt: number, now: number): boolean {
    const seen = this.#slots.get(key)
    if (seen !== undefined && this.#expiries[seen] > now) return false
    // Drop what expired, from the oldest; then make room if still full.
    while (this.#count > 0) {
      const head = this.#head
      const oldest = this.#keys[head]
      const owned = this.#slots.get(oldest) === head
      if (owned && this.#expiries[head] > now && this.#count < this.#max) break
      if (owned) this.#slots.delete(oldest)
      this.#head = head + 1 === this.#max ? 0 : head + 1
      this.#count--
    }
    // The ring fills 0, 1, … before it wraps, so `tail` is at most the arrays' length.
    const tail = (this.#head + this.#count) % this.#max
    this.#keys[tail] = key
    this.#expiries[tail] = expiresAt
    this.#count++
    this.#slots.set(key, tail)
    return true
  }

  get size (): number { return this.#slots.size }
}

/**
 * Stateless nonces: the current time step and an HMAC of it under `secret`, so several processes
 * sharing the secret issue and accept the same values. A nonce is accepted in its step and the next.
 *
 * @param secret at least 32 random bytes, shared by the instances of this resource server
 * @param lifetimeSeconds how long each nonce is handed out (default 300)
 * @param now clock in ms (tests)
 */
export function createDPoPNonces (secret: Uint8Array, lifetimeSeconds = 300, now: () => number = Date.now): DPoPNonceSource {
  if (!(secret instanceof Uint8Array) || secret.length < 32) throw new TypeError('the nonce secret must be at least 32 bytes')
  if (!(lifetimeSeconds > 0)) throw new TypeError('lifetimeSeconds must be positive')
  const lifetime = lifetimeSeconds * 1000
  const mac = (step: number) => createHmac('sha256', secret).update(`dpop-nonce:${step}`).digest().subarray(0, 16)
  let cached: { step: number, nonce: string } | undefined
  return {
    current () {
      const step = Math.floor(now() / lifetime)
      if (cached?.step !== step) cached = { step, nonce: `${step.toString(36)}.${mac(step).toString('base64url')}` }
      return cached.nonce
    },
    accepts (nonce) {
      if (typeof nonce !== 'string') return false
      const match = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce)
      if (!match) return false
      const step = parseInt(match[1], 36)
      const current = Math.floor(now() / lifetime)
      if (step !== current && step !== current - 1) return false
      // Compare the characters, not the decoded bytes: 16 bytes leave 4 padding bits in the last
      // of 22 characters, and decoding would accept 16 spellings of each nonce.
      return timingSafeEqual(Buffer.from(match[2]), Buffer.from(mac(step).toString('base64url')))
    },
  }
}

/** §4.3 item 9, normalized (scheme and host case, default port): `origin + path`, or null. */
export function normalizeHtu (value: string): string | null {
  if (!URL.canParse(value)) return null
  const url = new URL(value)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  return `${url.protocol}//${url.host}${url.pathname}`
}

/**
 * §4.3 item 9 as a check of `htu` against a request's URL. A server sees few distinct request URLs
 * (its endpoints), so each is normalized once (`new URL` costs µs) and kept in a bounded cache;
 * only request URLs are cached, never a proof's `htu` (the client's choice). An `htu` with the
 * same text as the request URL is the same URL; anything else is compared normalized.
 *
 * @internal shared by the verifier and the Stamp server
 */
export function createHtuMatcher (maxEntries = 1024): (htu: unknown, requestUrl: string) => boolean {
  const targets = new Map<string, string | null>()
  const targetOf = (url: string): string | null => {
    let normalized = targets.get(url)
    if (normalized === undefined) {
      normalized = normalizeHtu(url)
      if (targets.size >= maxEntries) targets.clear()
      if (url.length <= 2048) targets.set(url, normalized)
    }
    return normalized
  }
  return (htu, requestUrl) => {
    if (typeof htu !== 'string') return false
    const target = targetOf(requestUrl)
    return target !== null && (htu === requestUrl || normalizeHtu(htu) === target)
  }
}

/** The resolved settings and state of a verifier's DPoP support. */
export interface DPoPChecker {
  readonly algorithms: readonly string[]
  readonly required: boolean
  readonly nonces: DPoPNonceSource | undefined
  /**
   * Checks `proof` for `request` and `accessToken`, signed by the key with thumbprint `jkt`.
   *
   * @throws {@link DPoPProofInvalid} or {@link DPoPNonceRequired}
   */
  check (proof: string | string[] | undefined, request: DPoPRequest, accessToken: string, jkt: string): Promise<void>
}

/**
 * Builds the DPoP checks a verifier runs.
 *
 * @internal
 */
export function createDPoPChecker (options: DPoPOptions, now: () => number = Date.now): DPoPChecker {
  const algorithms = options.algorithms ?? [...DPOP_DEFAULT_ALGORITHMS]
  if (!algorithms.length || algorithms.some((a) => typeof a !== 'string' || FORBIDDEN_ALGS.test(a) || !DPOP_DEFAULT_ALGORITHMS.includes(a))) {
    throw new TypeError(`dpop.algorithms must be a non-empty subset of ${DPOP_DEFAULT_ALGORITHMS.join(', ')}`)
  }
  const window = options.proofWindow ?? 60
  if (!(window > 0)) throw new TypeError('dpop.proofWindow must be a positive number of seconds')
  const replay = new DPoPReplayCache(options.replayCacheSize)
  const jws = new ProofJWSVerifier({ algorithms, typ: DPOP_PROOF_TYP })
  const nonces = options.nonces
  const htuMatches = createHtuMatcher()

  async function check (header: string | string[] | undefined, request: DPoPRequest, accessToken: string, jkt: string): Promise<void> {
    if (header === undefined || header === '') throw new DPoPProofInvalid('a DPoP proof is required with a DPoP-bound access token')
    // §4.3 item 1: exactly one DPoP header (Node joins repeated ones with ", ").
    if (Array.isArray(header) || header.includes(',')) throw new DPoPProofInvalid('send exactly one DPoP header')
    // Items 2 to 7 (and the length bound): a JWS with typ dpop+jwt, an accepted alg, a public jwk, a valid signature.
    const proof = await jws.verifyAsync(header)
    // §7.1: "the public key to which the access token is bound matches the public key from the DPoP proof".
    if (proof.jkt !== jkt) throw new DPoPProofInvalid('the DPoP proof is signed by another key than the token is bound to')
    const claims = proof.claims
    const { jti, htm, htu, iat, ath } = claims
    if (typeof jti !== 'string' || !jti || jti.length > MAX_JTI_LENGTH) throw new DPoPProofInvalid('the DPoP proof needs a jti')
    if (htm !== request.method) throw new DPoPProofInvalid('the DPoP proof htm does not match the request method')
    if (!htuMatches(htu, request.url)) throw new DPoPProofInvalid('the DPoP proof htu does not match the request URL')
    if (nonces && !nonces.accepts(claims.nonce)) {
      throw new DPoPNonceRequired(nonces.current(), claims.nonce === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is invalid or expired')
    }
    const clock = now()
    if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(clock / 1000 - iat) > window) {
      throw new DPoPProofInvalid('the DPoP proof iat is outside the accepted window')
    }
    // §4.2 ath: base64url SHA-256 of the token's ASCII octets (one-shot hash, no Hash object).
    const expected = hash('sha256', accessToken, 'base64url')
    if (typeof ath !== 'string' || ath.length !== expected.length || !timingSafeEqual(Buffer.from(ath), Buffer.from(expected))) {
      throw new DPoPProofInvalid('the DPoP proof ath does not match the access token')
    }
    // §11.1: a proof is single use; remembered for as long as its iat is acceptable.
    if (!replay.use(`${proof.jkt}:${jti}`, (iat + window) * 1000, clock)) throw new DPoPProofInvalid('the DPoP proof was already used')
  }

  return { algorithms, required: options.required === true, nonces, check }
}
