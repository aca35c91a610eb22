/**
 * DPoP proofs (RFC 9449): the checks of §4.3 for a proof received at the token endpoint or at a
 * resource (/userinfo), the key thumbprint tokens get bound to (§6.1, RFC 7638), and stateless
 * server nonces (§8, §9, from stamp-verifier: stateless, an HMAC of the time step).
 *
 * The JWS (items 2 to 7: structure, typ, alg, public jwk, signature) is checked by
 * stamp-verifier's `ProofJWSVerifier`, the same code resource servers run: synchronous
 * node:crypto on a key imported once, the header checked once per header text. The algorithm
 * allow-list is pinned (never `none` or HMAC, §4.3 item 5), each algorithm accepts exactly its
 * key type and curve, and RSA keys must have at least 2048 bits.
 *
 * `jti` single use (§11.1) goes through a {@link ReplayStore} shared by all instances, namespaced
 * by the key (`dpop:<jkt>`): a proof replayed to another instance is refused too.
 *
 * @module
 */
import { hash, timingSafeEqual } from 'node:crypto'
// One implementation of the proof JWS, the thumbprint, the htu rule and the nonces for server and resources.
import { createHtuMatcher, DPoPProofInvalid, ProofJWSVerifier, PROOF_JWS_ALGORITHMS, type DPoPNonceSource, type VerifiedProofJWS } from 'stamp-verifier'
import { InvalidDPoPProof, UseDPoPNonce } from '../errors.js'
import type { ReplayStore } from '../storage/types.js'

/** §4.2: the `typ` of a proof. */
export const DPOP_PROOF_TYP = 'dpop+jwt'
/** §5: `token_type` of a DPoP-bound access token; also the `Authorization` scheme (§7.1). */
export const DPOP_TOKEN_TYPE = 'DPoP'
/** The algorithms this module can verify (the policy may allow fewer). */
export const DPOP_ALGORITHMS: readonly string[] = PROOF_JWS_ALGORITHMS

/** Longest `jti` accepted: it is stored by every instance until the proof expires. */
const MAX_JTI_LENGTH = 128
/** A SHA-256 JWK thumbprint, base64url (43 characters). */
export const JKT = /^[A-Za-z0-9_-]{43}$/

/** §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII octets (one-shot hash). */
export function accessTokenHash (accessToken: string): string {
  return hash('sha256', accessToken, 'base64url')
}

export interface DPoPPolicy {
  algorithms: readonly string[]
  /** Seconds `iat` may differ from the server clock. */
  proofWindow: number
}

export interface DPoPProofValidatorOptions {
  policy: DPoPPolicy
  /** `jti` single use, shared by all instances. */
  replay: ReplayStore
  /** Server nonces, when they are required (DPOP_NONCE); null: not required. */
  nonces: DPoPNonceSource | null
  /** Clock in ms (tests). */
  now?: () => number
}

/** What a proof is checked against: the request it came with. */
export interface DPoPRequest {
  /** The HTTP method (§4.3 item 8, `htm`). */
  method: string
  /** The request's public URL, without query and fragment (§4.3 item 9, `htu`). */
  url: string
  /** The access token presented with the proof, at a resource (§4.3 item 12, `ath`). */
  accessToken?: string
}

/** A valid proof: the thumbprint of its key (§6.1 `cnf.jkt`). */
export interface DPoPProof {
  jkt: string
  jti: string
}

/**
 * Checks DPoP proofs. Throws {@link InvalidDPoPProof} (or {@link UseDPoPNonce} with the
 * `DPoP-Nonce` header) with a description naming the check that failed.
 */
export class DPoPProofValidator {
  readonly #policy: DPoPPolicy
  readonly #replay: ReplayStore
  readonly #now: () => number
  readonly #jws: ProofJWSVerifier
  /** §4.3 item 9; the request's URL is one of a few (the token endpoint's, /userinfo's). */
  readonly #htuMatches = createHtuMatcher(256)
  /** Server nonces, or null when they are not required. */
  readonly nonces: DPoPNonceSource | null

  constructor (options: DPoPProofValidatorOptions) {
    const unknown = options.policy.algorithms.filter((a) => !DPOP_ALGORITHMS.includes(a))
    if (unknown.length || !options.policy.algorithms.length) throw new TypeError(`DPoP algorithms must be a non-empty subset of ${DPOP_ALGORITHMS.join(', ')}`)
    this.#policy = options.policy
    this.#jws = new ProofJWSVerifier({ algorithms: options.policy.algorithms, typ: DPOP_PROOF_TYP })
    this.#replay = options.replay
    this.nonces = options.nonces
    this.#now = options.now ?? Date.now
  }

  /** The algorithms proofs may use (`dpop_signing_alg_values_supported`, the verifier's `algs`). */
  get algorithms (): readonly string[] {
    return this.#policy.algorithms
  }

  /** The nonce to send in `DPoP-Nonce` now, or undefined when nonces are off. */
  currentNonce (): string | undefined {
    return this.nonces?.current()
  }

  /**
   * Validates the `DPoP` header of a request (§4.3). Undefined when there is none (the caller
   * decides whether one was required).
   */
  async validate (header: string | string[] | undefined, request: DPoPRequest): Promise<DPoPProof | undefined> {
    if (header === undefined) return undefined
    // §4.3 item 1: "there is not more than one DPoP HTTP request header field"; Node joins
    // repeated headers with ", ", which no compact JWS contains.
    if (Array.isArray(header) || header.includes(',')) throw new InvalidDPoPProof('send exactly one DPoP header')
    const proof = header.trim()
    if (!proof) throw new InvalidDPoPProof('the DPoP header is empty')
    // Items 2 and 4 to 7: a compact JWS, typ, alg, public jwk, signature.
    let verified: VerifiedProofJWS
    try {
      verified = await this.#jws.verifyAsync(proof)
    } catch (err) {
      if (err instanceof DPoPProofInvalid) throw new InvalidDPoPProof(err.message)
      throw err
    }
    const { jkt, claims } = verified

    // Items 3 and 8 to 12: the claims.
    const { jti, htm, htu, iat } = claims
    if (typeof jti !== 'string' || !jti || jti.length > MAX_JTI_LENGTH) throw new InvalidDPoPProof('the DPoP proof needs a jti (at most 128 characters)')
    if (htm !== request.method) throw new InvalidDPoPProof('the DPoP proof htm does not match the request method')
    if (!this.#htuMatches(htu, request.url)) throw new InvalidDPoPProof('the DPoP proof htu does not match the request URL')
    const now = this.#now()
    if (this.nonces && !this.nonces.accepts(claims.nonce)) {
      const description = claims.nonce === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is invalid or expired'
      throw new UseDPoPNonce(description, { headers: { 'dpop-nonce': this.nonces.current() } })
    }
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new InvalidDPoPProof('the DPoP proof needs a numeric iat')
    const window = this.#policy.proofWindow
    if (Math.abs(now / 1000 - iat) > window) throw new InvalidDPoPProof('the DPoP proof iat is outside the accepted window (stale or future proof)')
    if (request.accessToken !== undefined) {
      if (typeof claims.ath !== 'string') throw new InvalidDPoPProof('the DPoP proof needs ath (the hash of the access token)')
      if (!equal(claims.ath, accessTokenHash(request.accessToken))) throw new InvalidDPoPProof('the DPoP proof ath does not match the access token')
    }
    // §11.1: remembered for as long as the proof could be accepted (iat + window), by every instance.
    const fresh = await this.#replay.markUsed(`dpop:${jkt}`, jti, new Date((iat + window) * 1000), new Date(now))
    if (!fresh) throw new InvalidDPoPProof('the DPoP proof was already used (jti replay)')
    return { jkt, jti }
  }
}

function equal (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
