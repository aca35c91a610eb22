/**
 * DPoP in the bench: proofs for the load generator, and the DPoP-bound client_credentials
 * scenario held against plain client_credentials in paired rounds.
 *
 * Proofs must be fresh and single use, so the load generator cannot replay one. Signing each
 * proof inside the timed window would bill the client's ES256 signatures to the server on these
 * shared cores; instead each round first pre-generates a pool of unique proofs (ES256 unless
 * said otherwise; one key, distinct `jti`, `iat` = now, well inside the server's 60 s window)
 * sized from the plain run just measured, and each request takes the next one; a connection
 * that ran out of proofs would replay and is refused (counted as non-2xx, so a short pool shows).
 *
 * @module
 */
import { constants, createHash, generateKeyPairSync, randomUUID, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto'
import type autocannon from 'autocannon'
import type { Seed } from './database.js'
import type { LoadSettings, Scenario } from './load.js'

const FORM = 'application/x-www-form-urlencoded'

/** The proof algorithms the bench can sign with. */
export type ProofAlgorithm = 'ES256' | 'PS256' | 'EdDSA'

/** A key and a way to sign DPoP proofs (RFC 9449 §4.2) with it, fast (node:crypto); ES256 by default. */
export class ProofSigner {
  readonly #key: SignKeyObjectInput | KeyObject
  readonly #digest: 'sha256' | null
  readonly #header: string
  readonly jkt: string
  readonly alg: ProofAlgorithm
  /** The public key and verify options, for measuring one bare verification of this algorithm. */
  readonly verifyKey: { key: KeyObject, digest: 'sha256' | null, options: Record<string, unknown> }

  constructor (alg: ProofAlgorithm = 'ES256') {
    this.alg = alg
    const { privateKey, publicKey } = alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'PS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')
    const options = alg === 'ES256'
      ? { dsaEncoding: 'ieee-p1363' as const }
      : alg === 'PS256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}
    this.#digest = alg === 'EdDSA' ? null : 'sha256'
    this.#key = { key: privateKey, ...options }
    this.verifyKey = { key: publicKey, digest: this.#digest, options }
    const jwk = publicKey.export({ format: 'jwk' })
    // RFC 7638: the required members in lexicographic order.
    const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
    this.jkt = createHash('sha256').update(JSON.stringify(members)).digest('base64url')
    this.#header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg, jwk: members })).toString('base64url')
  }

  proof (htm: string, htu: string, accessToken?: string): string {
    const claims: Record<string, unknown> = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) }
    if (accessToken !== undefined) claims.ath = createHash('sha256').update(accessToken).digest('base64url')
    const input = `${this.#header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    return `${input}.${sign(this.#digest, Buffer.from(input), this.#key).toString('base64url')}`
  }

  pool (count: number, htm: string, htu: string, accessToken?: string): string[] {
    return Array.from({ length: count }, () => this.proof(htm, htu, accessToken))
  }
}

/** Enough proofs for a run at `expectedRate` (warm-up included), with a margin. */
export function poolSize (expectedRate: number, settings: LoadSettings): number {
  return Math.ceil(expectedRate * (settings.warmupSeconds + settings.durationSeconds) * 1.5) + 1000
}

/**
 * A scenario whose requests each use up one single-use value (a DPoP proof, a client assertion)
 * from a pool signed before the timed window. Each connection gets its own slice of the pool as
 * static requests, which autocannon serializes once when the connection is set up (a per-request
 * `setupRequest` would re-serialize every request inside the timed window, on the cores the
 * server needs). A connection that used up its slice would replay a value and be refused: counted
 * as non-2xx, never hidden.
 */
export function pooledScenario (name: string, url: string, pool: string[], connections: number, request: (value: string) => autocannon.Request): Scenario {
  const perClient = Math.floor(pool.length / connections)
  let next = 0
  return {
    name,
    url,
    options: () => ({
      setupClient (client: autocannon.Client) {
        const slice = pool.slice(next * perClient, (next + 1) * perClient)
        next++
        client.setRequests(slice.map(request))
      },
    }),
  }
}

/** client_credentials with a fresh DPoP proof per request: the server binds each token (cnf.jkt). */
export function dpopClientCredentialsScenario (base: string, seed: Seed, proofs: string[], connections: number): Scenario {
  return pooledScenario('client_credentials (DPoP)', `${base}/token`, proofs, connections, (proof) => ({
    method: 'POST',
    path: '/token',
    headers: { authorization: seed.service.basic, 'content-type': FORM, dpop: proof },
    body: 'grant_type=client_credentials&scope=read',
  }))
}
