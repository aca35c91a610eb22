/**
 * The compact JWS check of a DPoP proof (RFC 9449 §4.3 items 2 to 7, RFC 7515 §5.2), written by
 * hand for one job: a proof is verified on every DPoP request, so the three parts are split once,
 * the protected header is parsed and checked once per header text (a client reuses its header:
 * same `typ`, `alg` and `jwk`), and the signature is verified with node:crypto on a cached
 * `KeyObject`, instead of jose's decode + `jwtVerify` with WebCrypto keys (the header parsed twice
 * per proof, a key import per verifier). `verifyAsync` (what the verifier and the server call)
 * verifies ES256 and EdDSA on libuv's thread pool, so a busy server's main thread goes on with
 * other requests meanwhile (measured: ES256 over HTTP 0.62 of Bearer against 0.39–0.69 on the
 * main thread), and RSA in place (its verify costs about the hop); `verify` does all in place.
 *
 * Pinned, never negotiated: ES256 takes only P-256 keys and 64-octet R‖S signatures (RFC 7518
 * §3.4); PS256 RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-octet salt (§3.5); RS256
 * RSASSA-PKCS1-v1_5 (§3.3); both RSA ones only with moduli of at least 2048 bits (§3.3, §3.5);
 * EdDSA only Ed25519 (RFC 8037 §3.1). `none`, HMAC and anything else are refused (§4.3 item 5:
 * "not none or an identifier for a symmetric algorithm"), and so are `crit` (no extension is
 * understood, RFC 7515 §4.1.11), `b64` other than true (RFC 7797), non-canonical base64url
 * (padding, stray bits, other alphabets) and oversize proofs.
 *
 * Shared by the verifier SDK and the Stamp server, so DPoP proofs have one implementation.
 *
 * @module
 */
import { constants, createPublicKey, hash, verify as verifySignature, type JsonWebKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto'
import { DPoPProofInvalid } from './errors.js'

/** The algorithms {@link ProofJWSVerifier} can check. */
export const PROOF_JWS_ALGORITHMS: readonly string[] = ['ES256', 'RS256', 'PS256', 'EdDSA']
/** Longest proof accepted, in characters: a 4096-bit RSA key in the header fits easily. */
export const MAX_PROOF_LENGTH = 8192
/** Private (and symmetric) JWK members: §4.3 item 7, "the jwk header parameter does not contain a private key". */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** A checked protected header: what every proof with this exact header text shares. */
interface CheckedHeader {
  readonly alg: string
  readonly jkt: string
  /** The digest for `crypto.verify` (null for Ed25519). */
  readonly digest: 'sha256' | null
  /** Key and padding options for `crypto.verify`, built once. */
  readonly key: VerifyKeyObjectInput | KeyObject
  /** Signature length in octets, when the algorithm fixes it. */
  readonly signatureLength: number
  /** Verify on the thread pool in {@link ProofJWSVerifier.verifyAsync}: the curve algorithms (60–110 µs here). */
  readonly offload: boolean
}

interface ParsedProof { header: CheckedHeader, claims: Record<string, unknown>, input: Buffer, signature: Buffer }

/** A proof whose signature verified: its algorithm, key thumbprint (RFC 7638) and claims. */
export interface VerifiedProofJWS {
  alg: string
  jkt: string
  claims: Record<string, unknown>
}

export interface ProofJWSVerifierOptions {
  /** Accepted algorithms, a non-empty subset of {@link PROOF_JWS_ALGORITHMS}. */
  algorithms: readonly string[]
  /** The required `typ` (default `dpop+jwt`, §4.2). */
  typ?: string
  /** Most header texts (and keys) remembered at once (default 10 000); the cache restarts when full. */
  maxCachedHeaders?: number
}

/**
 * Checks compact-JWS DPoP proofs: header, key and signature. The claims are the caller's
 * (htm, htu, iat, jti, ath differ between a token endpoint and a resource).
 *
 * @internal shared by stamp-verifier and the Stamp server
 */
export class ProofJWSVerifier {
  readonly algorithms: readonly string[]
  readonly #typ: string
  readonly #max: number
  readonly #headers = new Map<string, CheckedHeader>()
  /** `alg:jkt` → key input, so another header text for the same key skips the import. */
  readonly #keys = new Map<string, VerifyKeyObjectInput | KeyObject>()

  constructor (options: ProofJWSVerifierOptions) {
    const { algorithms } = options
    if (!algorithms.length || algorithms.some((a) => !PROOF_JWS_ALGORITHMS.includes(a))) {
      throw new TypeError(`DPoP proof algorithms must be a non-empty subset of ${PROOF_JWS_ALGORITHMS.join(', ')}`)
    }
    this.algorithms = [...algorithms]
    this.#typ = (options.typ ?? 'dpop+jwt').toLowerCase()
    this.#max = options.maxCachedHeaders ?? 10_000
  }

  /**
   * Verifies `proof`'s structure, header and signature, on this thread.
   *
   * @throws {@link DPoPProofInvalid} naming the check that failed
   */
  verify (proof: string): VerifiedProofJWS {
    return verifiedInPlace(this.#parse(proof))
  }

  /**
   * The same checks, with the signature verified on libuv's thread pool (`crypto.verify` with a
   * callback): what a server with requests in flight wants, since the main thread parses the
   * next request while another core verifies, as WebCrypto (jose) does for the access token.
   *
   * @throws {@link DPoPProofInvalid} naming the check that failed (as a rejection)
   */
  verifyAsync (proof: string): Promise<VerifiedProofJWS> {
    let parsed: ParsedProof
    try {
      parsed = this.#parse(proof)
    } catch (err) {
      return Promise.reject(err)
    }
    const { header, claims, input, signature } = parsed
    // An RSA verify (≈ 20 µs here) costs about what the hop to the pool does: done in place.
    if (!header.offload) {
      try {
        return Promise.resolve(verifiedInPlace(parsed))
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return new Promise((resolve, reject) => {
      verifySignature(header.digest, input, header.key, signature, (err, valid) => {
        if (err || !valid) reject(new DPoPProofInvalid('the DPoP proof signature is invalid'))
        else resolve({ alg: header.alg, jkt: header.jkt, claims })
      })
    })
  }

  #parse (proof: string): ParsedProof {
    if (typeof proof !== 'string' || !proof) throw new DPoPProofInvalid('the DPoP proof is empty')
    if (proof.length > MAX_PROOF_LENGTH) throw new DPoPProofInvalid('the DPoP proof is too long')
    const first = proof.indexOf('.')
    const second = first < 0 ? -1 : proof.indexOf('.', first + 1)
    if (second < 0 || proof.indexOf('.', second + 1) !== -1) throw new DPoPProofInvalid('the DPoP proof is not a compact JWS')
    const headerText = proof.slice(0, first)
    const header = this.#headers.get(headerText) ?? this.#checkHeader(headerText)

    const payloadText = proof.slice(first + 1, second)
    const claims = parseJSONObject(payloadText)
    if (!claims) throw new DPoPProofInvalid('the DPoP proof payload is not a JSON object in canonical base64url')
    const signature = decodeBase64url(proof.slice(second + 1))
    if (!signature || (header.signatureLength && signature.length !== header.signatureLength)) {
      throw new DPoPProofInvalid('the DPoP proof signature is invalid')
    }
    // The signing input is the ASCII of "header.payload" (RFC 7515 §5.2 step 8); base64url is ASCII.
    return { header, claims, input: Buffer.from(proof.slice(0, second), 'latin1'), signature }
  }

  #checkHeader (text: string): CheckedHeader {
    const header = parseJSONObject(text)
    if (!header) throw new DPoPProofInvalid('the DPoP proof header is not a JSON object in canonical base64url')
    // §4.3 item 4. RFC 7515 §4.1.9: a media type, case-insensitive, "application/" optional.
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : undefined
    if (typ !== this.#typ && typ !== `application/${this.#typ}`) throw new DPoPProofInvalid(`the DPoP proof must have typ ${this.#typ}`)
    const alg = header.alg
    if (typeof alg !== 'string' || !this.algorithms.includes(alg)) {
      throw new DPoPProofInvalid(`the DPoP proof algorithm must be one of ${this.algorithms.join(', ')}`)
    }
    // RFC 7515 §4.1.11: extensions we do not understand make the JWS invalid; we understand none.
    if (header.crit !== undefined) throw new DPoPProofInvalid('the DPoP proof has unsupported critical header parameters')
    // RFC 7797: an unencoded payload is no JWT.
    if (header.b64 !== undefined && header.b64 !== true) throw new DPoPProofInvalid('the DPoP proof must have a base64url-encoded payload')
    const jwk = header.jwk
    if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new DPoPProofInvalid('the DPoP proof has no jwk header')
    const members = jwk as Record<string, unknown>
    if (PRIVATE_MEMBERS.some((m) => m in members)) throw new DPoPProofInvalid('the DPoP proof jwk must be a public key (it holds private key members)')
    const jkt = jwkThumbprint(members)
    if (!jkt) throw new DPoPProofInvalid('the DPoP proof jwk is not an EC, RSA or OKP public key')

    const id = `${alg}:${jkt}`
    let key = this.#keys.get(id)
    if (!key) {
      key = importKey(alg, members)
      if (this.#keys.size >= this.#max) this.#keys.clear()
      this.#keys.set(id, key)
    }
    const checked: CheckedHeader = {
      alg,
      jkt,
      digest: alg === 'EdDSA' ? null : 'sha256',
      key,
      signatureLength: alg === 'ES256' ? 64 : alg === 'EdDSA' ? 64 : 0,
      offload: alg === 'ES256' || alg === 'EdDSA',
    }
    // Restart rather than evict one by one: a flood of distinct headers costs what it always did.
    if (this.#headers.size >= this.#max) this.#headers.clear()
    this.#headers.set(text, checked)
    return checked
  }
}

/** Verifies a parsed proof's signature on this thread. */
function verifiedInPlace ({ header, claims, input, signature }: ParsedProof): VerifiedProofJWS {
  let valid: boolean
  try {
    valid = verifySignature(header.digest, input, header.key, signature)
  } catch {
    valid = false
  }
  if (!valid) throw new DPoPProofInvalid('the DPoP proof signature is invalid')
  return { alg: header.alg, jkt: header.jkt, claims }
}

/** Imports the public members only and checks the key fits `alg`; the `crypto.verify` key input. */
function importKey (alg: string, jwk: Record<string, unknown>): VerifyKeyObjectInput | KeyObject {
  let key: KeyObject
  try {
    const { kty, crv, x, y, n, e } = jwk
    key = createPublicKey({ key: { kty, crv, x, y, n, e } as JsonWebKey, format: 'jwk' })
  } catch (err) {
    throw new DPoPProofInvalid('the DPoP proof jwk is not a valid public key', { cause: err })
  }
  const details = key.asymmetricKeyDetails
  const rsa = key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048
  switch (alg) {
    case 'ES256':
      if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return { key, dsaEncoding: 'ieee-p1363' }
      break
    case 'PS256':
      // MGF1 uses the signature's digest (SHA-256) in node:crypto.
      if (rsa) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      break
    case 'RS256':
      if (rsa) return { key, padding: constants.RSA_PKCS1_PADDING }
      break
    case 'EdDSA':
      if (key.asymmetricKeyType === 'ed25519') return key
      break
  }
  throw new DPoPProofInvalid(`the DPoP proof jwk does not fit alg ${alg} (key type, curve or size)`)
}

/** RFC 7638 SHA-256 thumbprint of a public JWK (EC, RSA, OKP); null for anything else. */
export function jwkThumbprint (jwk: Record<string, unknown>): string | null {
  const str = (name: string) => typeof jwk[name] === 'string' ? jwk[name] as string : null
  let members: Record<string, string | null>
  switch (jwk.kty) {
    case 'EC': members = { crv: str('crv'), kty: 'EC', x: str('x'), y: str('y') }; break
    case 'RSA': members = { e: str('e'), kty: 'RSA', n: str('n') }; break
    case 'OKP': members = { crv: str('crv'), kty: 'OKP', x: str('x') }; break
    default: return null
  }
  if (Object.values(members).some((v) => v === null)) return null
  return hash('sha256', JSON.stringify(members), 'base64url')
}

/**
 * Strict base64url (RFC 7515 §2, RFC 4648 §5 without padding): the URL-safe alphabet only, and
 * canonical, so one value has one spelling (Buffer's decoder also takes `+/=`, and stray bits).
 */
export function decodeBase64url (text: string): Buffer | null {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return null
  const bytes = Buffer.from(text, 'base64url')
  // The last character may carry bits past the end; canonical means they are zero.
  const rest = text.length % 4
  if (rest) {
    const last = text.charCodeAt(text.length - 1)
    const value = last >= 97 ? last - 71 : last >= 65 ? last - 65 : last >= 48 ? last + 4 : last === 45 ? 62 : 63
    if (value & (rest === 2 ? 0x0f : 0x03)) return null
  }
  return bytes
}

function parseJSONObject (text: string): Record<string, unknown> | null {
  const bytes = decodeBase64url(text)
  if (!bytes) return null
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'))
    return value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : null
  } catch {
    return null
  }
}
