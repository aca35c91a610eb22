/**
 * Second-factor figures for `npm run bench`:
 *
 * - Passkey sign-in verification rate: WebAuthn assertions made by a software authenticator
 *   built here with node:crypto (ES256 over authenticatorData ‖ SHA-256(clientDataJSON), as
 *   WebAuthn §6.3.3 signs), verified by Stamp's own path (`SecondFactors.verifyAssertion`, i.e.
 *   @simplewebauthn/server): no argon2 on it. Compared with the password grant's rate of the same
 *   round (target ≥ 10 ×).
 * - What verifying a TOTP code costs the server: the record lookup and the atomic
 *   `last_used_step` UPDATE on the pg pool (as the server runs them), opening the sealed secret
 *   (AES-256-GCM) and checking the code within ±1 step (target ≤ 2 ms). One sign-in at a time, so
 *   it is a latency. What the whole second step adds to a hosted sign-in, over HTTP and paired
 *   with password-only sign-ins, is ./totp_sign_in.ts.
 *
 * @module
 */
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { kekFromBase64url, seal } from '../src/crypto/kek.js'
import { SecondFactors, relyingPartyFor } from '../src/domain/second_factors.js'
import { newTOTPSecret, timeStep, totp } from '../src/domain/totp.js'
import type { FactorStore, PasskeyRecord } from '../src/storage/types.js'
import { prismaFactorStore } from '../src/storage/prisma/factors.js'
import { createPool, createPrisma } from '../src/db/connection.js'

const ORIGIN = 'https://stamp.bench'
const rp = relyingPartyFor(ORIGIN)

/** COSE_Key (RFC 9053 §7.1.1) of an EC2 P-256 key, CBOR by hand: {1: 2, 3: -7, -1: 1, -2: x, -3: y}. */
function coseKey (publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' })
  const x = Buffer.from(jwk.x!, 'base64url')
  const y = Buffer.from(jwk.y!, 'base64url')
  return Buffer.concat([Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]), x, Buffer.from([0x22, 0x58, 0x20]), y])
}

/** A software authenticator: one ES256 credential, assertions with UP and UV set and a counter. */
function softwareAuthenticator () {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const id = randomBytes(16).toString('base64url')
  let counter = 0
  const passkey: PasskeyRecord = {
    id, userId: '00000000-0000-4000-8000-000000000000', publicKey: coseKey(publicKey), signCount: 0, backupEligible: false, backupState: false,
    transports: ['internal'], name: 'bench', createdAt: new Date(), lastUsedAt: null,
  }
  function assertion (challenge: string) {
    const counterBytes = Buffer.alloc(4)
    counterBytes.writeUInt32BE(++counter)
    const authenticatorData = Buffer.concat([createHash('sha256').update(rp.rpID).digest(), Buffer.from([0x05]), counterBytes])
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: ORIGIN, crossOrigin: false }))
    const signature = createSign('sha256').update(Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()])).sign(privateKey)
    return {
      id, rawId: id, type: 'public-key' as const, clientExtensionResults: {},
      response: { authenticatorData: authenticatorData.toString('base64url'), clientDataJSON: clientDataJSON.toString('base64url'), signature: signature.toString('base64url') },
    }
  }
  return { passkey, assertion }
}

/** Verified assertions per second over `seconds`, `concurrency` in flight. */
export async function passkeyVerificationRate (seconds: number, concurrency = 16): Promise<number> {
  const factors = new SecondFactors({ store: {} as FactorStore, kek: kekFromBase64url(randomBytes(32).toString('base64url')), productName: 'bench', challengeTTL: 300 })
  const { passkey, assertion } = softwareAuthenticator()
  // Signed beforehand: the authenticator's work is the user's device's, not the server's.
  const prepared = Array.from({ length: 512 }, () => {
    const challenge = randomBytes(32).toString('base64url')
    return { challenge, response: assertion(challenge) }
  })
  await factors.verifyAssertion(passkey, prepared[0].challenge, rp, prepared[0].response) // fails loudly if the format is wrong
  const end = performance.now() + seconds * 1000
  let done = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const { challenge, response } = prepared[done % prepared.length]
      // The counter is not checked against a growing stored value here: each verification is independent.
      await factors.verifyAssertion({ ...passkey, signCount: 0 }, challenge, rp, response)
      done++
    }
  }))
  return done / ((performance.now() - start) / 1000)
}

/** Mean ms of one TOTP check (lookup, open the sealed secret, match ±1 step, the atomic UPDATE). */
export async function totpCostMs (databaseUrl: string, userId: string, iterations = 300): Promise<number> {
  const pool = createPool({ url: databaseUrl, poolMax: 2 })
  const prisma = createPrisma({ url: databaseUrl, poolMax: 2 }, pool)
  try {
    const kek = kekFromBase64url(randomBytes(32).toString('base64url'))
    const store = prismaFactorStore(prisma, pool) // as the server does (src/plugins/services.ts)
    const secret = newTOTPSecret()
    await store.beginTOTP({ userId, secretEnc: seal(kek, secret, `totp:${userId}`), kekId: kek.id })
    let clock = Date.now()
    const factors = new SecondFactors({ store, kek, productName: 'bench', challengeTTL: 300, now: () => new Date(clock) })
    if (!await factors.confirmTOTP(userId, totp(secret, clock))) throw new Error('TOTP bench: confirmation refused')
    const start = performance.now()
    for (let i = 0; i < iterations; i++) {
      clock += 30_000 // each sign-in in a later step: a code is accepted once per step
      if (!await factors.verifyTOTP(userId, totp(secret, clock))) throw new Error(`TOTP bench: code refused at step ${timeStep(clock)}`)
    }
    return (performance.now() - start) / iterations
  } finally {
    await prisma.$disconnect()
    await pool.end().catch(() => {})
  }
}

