/**
 * private_key_jwt against client_secret_basic (RFC 7523 §2.2 vs RFC 6749 §2.3.1): the same
 * client_credentials request, authenticated by a signed assertion or by a secret, in paired
 * back-to-back rounds on the same server.
 *
 * Assertions are single use (a fresh `jti` each), so the load generator cannot replay one. Signing
 * each inside the timed window would bill the client's ES256 signatures to the server on these
 * shared cores (the bench measures the server), so, as bench/dpop.ts does for proofs, each round
 * first signs a pool of unique assertions sized from the Basic run just measured, and each request
 * takes the next one; a connection that ran out would replay and be refused (counted as non-2xx,
 * so a short pool shows). On the server each assertion costs an ES256 verification and one replay
 * record (Redis SET NX when Redis is up, else an INSERT into used_jtis; domain/replay.ts). With a
 * meter, each run also records the server's and its database backends' CPU per response.
 *
 * @module
 */
import { createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import pg from 'pg'
import { poolSize, pooledScenario } from './dpop.js'
import type { Seed } from './database.js'
import { clientCredentialsScenario, runLoad, type LoadResult, type LoadSettings, type Scenario } from './load.js'
import { pairedRatioCheck, type Check } from './report.js'
import type { CpuMeter } from './cpu.js'

const FORM = 'application/x-www-form-urlencoded'
const ASSERTION_TYPE = encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
const CLIENT_ID = 'bench-private-key-jwt'
const KID = 'bench-es256'

export interface PrivateKeyJwtBench { basic: LoadResult[], privateKeyJwt: LoadResult[], check: Check }

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A fresh ES256 client assertion, signed now (JWS compact form, RFC 7515 §7.1). */
export function signAssertion (key: KeyObject, clientId: string, audience: string): string {
  const now = Math.floor(Date.now() / 1000)
  const input = `${b64({ alg: 'ES256', kid: KID, typ: 'JWT' })}.${b64({ iss: clientId, sub: clientId, aud: audience, jti: randomUUID(), iat: now, exp: now + 60 })}`
  // RFC 7518 §3.4: R || S, not DER.
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

/** client_credentials authenticated by a pre-signed, single-use assertion per request (see bench/dpop.ts). */
function privateKeyJwtScenario (base: string, assertions: string[], connections: number): Scenario {
  return pooledScenario('client_credentials (private_key_jwt)', `${base}/token`, assertions, connections, (assertion) => ({
    method: 'POST',
    path: '/token',
    headers: { 'content-type': FORM },
    body: `grant_type=client_credentials&scope=read&client_assertion_type=${ASSERTION_TYPE}&client_assertion=${assertion}`,
  }))
}

/** Registers the private_key_jwt client (its public key inline) in the bench database. */
async function register (databaseUrl: string): Promise<KeyObject> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256', use: 'sig' }
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    await db.query(`INSERT INTO clients (client_id, name, secret_hash, public, first_party, grant_types, scopes, audiences, token_endpoint_auth_method, jwks, updated_at)
      VALUES ($1, 'Bench private_key_jwt service', NULL, false, false, $2, $3, $4, 'private_key_jwt', $5, now())`,
    [CLIENT_ID, ['client_credentials'], ['read', 'write'], ['https://api.example.com'], JSON.stringify({ keys: [jwk] })])
  } finally {
    await db.end()
  }
  return createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }))
}

export async function benchPrivateKeyJwt (options: { base: string, databaseUrl: string, seed: Seed, settings: LoadSettings, rounds: number, step: (message: string) => void, meter?: CpuMeter }): Promise<PrivateKeyJwtBench> {
  const { base, seed, settings, rounds, step } = options
  const measured = (run: () => Promise<LoadResult>) => options.meter ? options.meter.measure(run, (r) => r.completed) : run()
  const key = await register(options.databaseUrl)
  // The server's issuer is its default (http://localhost:PORT), which the assertion names as aud.
  const issuer = `http://localhost:${new URL(base).port}`
  const probe = await fetch(`${base}/token`, { method: 'POST', headers: { 'content-type': FORM }, body: `grant_type=client_credentials&client_assertion_type=${ASSERTION_TYPE}&client_assertion=${signAssertion(key, CLIENT_ID, issuer)}` })
  if (probe.status !== 200) throw new Error(`private_key_jwt preflight failed: ${probe.status} ${await probe.text()}`)
  const basic: LoadResult[] = []
  const privateKeyJwt: LoadResult[] = []
  for (let round = 1; round <= rounds; round++) {
    step(`stamp: client_credentials (Basic) (round ${round}/${rounds}, paired with private_key_jwt)`)
    basic.push(await measured(() => runLoad(clientCredentialsScenario(base, seed), settings)))
    const assertions = Array.from({ length: poolSize(basic.at(-1)!.mean, settings) }, () => signAssertion(key, CLIENT_ID, issuer))
    step(`stamp: client_credentials (private_key_jwt, ${assertions.length} assertions signed beforehand) (round ${round}/${rounds})`)
    privateKeyJwt.push(await measured(() => runLoad(privateKeyJwtScenario(base, assertions, settings.connections), settings)))
  }
  return { basic, privateKeyJwt, check: pairedRatioCheck('client_credentials (private_key_jwt)', privateKeyJwt.map((r, i) => [r.mean, basic[i].mean]), 'client_secret_basic', 0.7) }
}
