/**
 * DPoP proofs (RFC 9449): the checks of §4.3 for a proof received at the token endpoint or at a
 * resource (/userinfo), the key thumbprint tokens get bound to (§6.1, RFC 7638), and stateless
 * server nonces (§8, §9, from stamp-verifier: stateless, an HMAC of the time step).
 *
 * Signatures are checked with node:crypto directly: a proof is verified on every DPoP request,
 * and its key (the client's, usually the same for many requests) is imported once and cached by
 * thumbprint. The algorithm allow-list is pinned (never `none` or HMAC, §4.3 item 5), each
 * algorithm accepts exactly its key type and curve, and RSA keys must have at least 2048 bits.
 *
 * `jti` single use (§11.1) goes through a {@link ReplayStore} shared by all instances, namespaced
 * by the key (`dpop:<jkt>`): a proof replayed to another instance is refused too.
 *
 * @module
 */
import { createHash, createPublicKey, constants, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto'
// One implementation of the thumbprint, the htu rule and the nonces for server and resources.
import { jwkThumbprint, normalizeHtu, type DPoPNonceSource } from 'stamp-verifier'
import { InvalidDPoPProof, UseDPoPNonce } from '../errors.js'
import type { ReplayStore } from '../storage/types.js'

/** §4.2: the `typ` of a proof. */
export const DPOP_PROOF_TYP = 'dpop+jwt'
/** §5: `token_type` of a DPoP-bound access token; also the `Authorization` scheme (§7.1). */
export const DPOP_TOKEN_TYPE = 'DPoP'
/** The algorithms this module can verify (the policy may allow fewer). */
export const DPOP_ALGORITHMS: readonly string[] = ['ES256', 'RS256', 'PS256', 'EdDSA']

/** Longest proof accepted, in characters: a 4096-bit RSA key in the header fits easily. */
const MAX_PROOF_LENGTH = 8192
/** Longest `jti` accepted: it is stored by every instance until the proof expires. */
const MAX_JTI_LENGTH = 128
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
/** A SHA-256 JWK thumbprint, base64url (43 characters). */
export const JKT = /^[A-Za-z0-9_-]{43}$/
/** Private (and symmetric) JWK members: §4.3 item 7, "the jwk header parameter does not contain a private key". */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

type JWKMembers = Record<string, unknown>

/** §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII octets. */
export function accessTokenHash (accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url')
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
  readonly #keys = new Map<string, KeyObject>()
  /** Server nonces, or null when they are not required. */
  readonly nonces: DPoPNonceSource | null
  static readonly MAX_CACHED_KEYS = 10_000

  constructor (options: DPoPProofValidatorOptions) {
    const unknown = options.policy.algorithms.filter((a) => !DPOP_ALGORITHMS.includes(a))
    if (unknown.length || !options.policy.algorithms.length) throw new TypeError(`DPoP algorithms must be a non-empty subset of ${DPOP_ALGORITHMS.join(', ')}`)
    this.#policy = options.policy
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
    if (proof.length > MAX_PROOF_LENGTH || !JWS.test(proof)) throw new InvalidDPoPProof('the DPoP proof is not a compact JWS')
    const [headerPart, payloadPart, signaturePart] = proof.split('.')
    const protectedHeader = parseJSON(headerPart)
    const claims = parseJSON(payloadPart)
    if (!protectedHeader || !claims) throw new InvalidDPoPProof('the DPoP proof is not a JWT')

    // Items 4 to 7: typ, alg, jwk, signature.
    if (protectedHeader.typ !== DPOP_PROOF_TYP) throw new InvalidDPoPProof('the DPoP proof must have typ dpop+jwt')
    const alg = protectedHeader.alg
    if (typeof alg !== 'string' || !this.#policy.algorithms.includes(alg)) {
      throw new InvalidDPoPProof(`the DPoP proof algorithm must be one of ${this.#policy.algorithms.join(', ')}`)
    }
    const jwk = protectedHeader.jwk
    if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new InvalidDPoPProof('the DPoP proof has no jwk header')
    const members = jwk as JWKMembers
    if (PRIVATE_MEMBERS.some((m) => m in members)) throw new InvalidDPoPProof('the DPoP proof jwk must be a public key (it holds private key members)')
    if (protectedHeader.crit !== undefined) throw new InvalidDPoPProof('the DPoP proof has unsupported critical header parameters')
    const jkt = jwkThumbprint(members)
    if (!jkt) throw new InvalidDPoPProof('the DPoP proof jwk is not an EC, RSA or OKP public key')
    const key = this.#key(jkt, members, alg)
    if (!verifies(alg, key, `${headerPart}.${payloadPart}`, Buffer.from(signaturePart, 'base64url'))) {
      throw new InvalidDPoPProof('the DPoP proof signature is invalid')
    }

    // Items 3 and 8 to 12: the claims.
    const { jti, htm, htu, iat } = claims
    if (typeof jti !== 'string' || !jti || jti.length > MAX_JTI_LENGTH) throw new InvalidDPoPProof('the DPoP proof needs a jti (at most 128 characters)')
    if (htm !== request.method) throw new InvalidDPoPProof('the DPoP proof htm does not match the request method')
    if (typeof htu !== 'string' || normalizeHtu(htu) !== normalizeHtu(request.url)) throw new InvalidDPoPProof('the DPoP proof htu does not match the request URL')
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

  /** The public key for a thumbprint, imported once (the thumbprint covers every member that matters). */
  #key (jkt: string, jwk: JWKMembers, alg: string): KeyObject {
    let key = this.#keys.get(jkt)
    if (!key) {
      try {
        const { kty, crv, x, y, n, e } = jwk
        key = createPublicKey({ key: { kty, crv, x, y, n, e } as import('node:crypto').JsonWebKey, format: 'jwk' })
      } catch {
        throw new InvalidDPoPProof('the DPoP proof jwk is not a valid public key')
      }
      if (this.#keys.size >= DPoPProofValidator.MAX_CACHED_KEYS) this.#keys.clear()
      this.#keys.set(jkt, key)
    }
    if (!keyFits(alg, key)) throw new InvalidDPoPProof(`the DPoP proof jwk does not fit alg ${alg}`)
    return key
  }
}

/** Each algorithm takes exactly its key type (RFC 7518 §3.4: RSA keys of at least 2048 bits; RFC 8037: Ed25519). */
function keyFits (alg: string, key: KeyObject): boolean {
  const details = key.asymmetricKeyDetails
  switch (alg) {
    case 'ES256': return key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1'
    case 'RS256':
    case 'PS256': return key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048
    case 'EdDSA': return key.asymmetricKeyType === 'ed25519'
    default: return false
  }
}

function verifies (alg: string, key: KeyObject, signingInput: string, signature: Buffer): boolean {
  const data = Buffer.from(signingInput, 'ascii')
  switch (alg) {
    // RFC 7518 §3.4: R || S, 64 octets for P-256.
    case 'ES256': return signature.length === 64 && verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
    case 'RS256': return verifySignature('sha256', data, key, signature)
    // RFC 7518 §3.5: salt as long as the hash.
    case 'PS256': return verifySignature('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
    case 'EdDSA': return verifySignature(null, data, key, signature)
    default: return false
  }
}

function parseJSON (part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : null
  } catch {
    return null
  }
}

function equal (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
