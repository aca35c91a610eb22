/**
 * Signing keys: generation, the public JWK allow-list, and the lifecycle rules.
 *
 *   next ──rotate──▶ active ──rotate──▶ retiring ──deadline──▶ retired
 *     (published)     (signs)          (published)          (private key destroyed)
 *
 * Any published key can be revoked (removed at once; the one operation that breaks verifiers).
 * Pure functions only: storage and timing live in `domain/keyring.ts`.
 *
 * @module
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import type { Policy, SigningAlg } from '../config/defaults.js'

export type KeyStatus = 'next' | 'active' | 'retiring' | 'retired' | 'revoked'
export const PUBLISHED: readonly KeyStatus[] = ['next', 'active', 'retiring']

export interface GeneratedKey { kid: string, alg: SigningAlg, publicJwk: JWK, privateJwk: JWK }

const GENERATE_OPTIONS: Record<SigningAlg, Parameters<typeof generateKeyPair>[1]> = {
  RS256: { modulusLength: 2048, extractable: true },
  PS256: { modulusLength: 2048, extractable: true },
  ES256: { extractable: true },
  EdDSA: { crv: 'Ed25519', extractable: true },
}

export async function generateSigningKey (alg: SigningAlg): Promise<GeneratedKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, GENERATE_OPTIONS[alg])
  const publicJwk = toPublicJwk(await exportJWK(publicKey))
  // RFC 7638 thumbprint: a kid that is unique, stable and derived from the key itself.
  const kid = await calculateJwkThumbprint(publicJwk)
  return { kid, alg, publicJwk, privateJwk: await exportJWK(privateKey) }
}

/** Public members per key type (RFC 7518 §6); everything else, `d` and the CRT values included, is dropped. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
}

export function toPublicJwk (jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? '']
  if (!members) throw new TypeError(`unsupported key type ${jwk.kty}`)
  const out: Record<string, unknown> = {}
  for (const name of members) out[name] = (jwk as Record<string, unknown>)[name]
  return out as JWK
}

/** The JWK published in the JWKS (RFC 7517 §4): public members plus kid, use and alg. */
export function publishedJwk (key: { kid: string, alg: string, publicJwk: JWK }): JWK {
  return { ...toPublicJwk(key.publicJwk), kid: key.kid, use: 'sig', alg: key.alg }
}

/**
 * How long a key keeps being published after it stops signing: until every token it signed has
 * expired, plus clock skew, plus one JWKS cache lifetime, plus one key-refresh interval (another
 * instance may still sign with it until it notices the rotation).
 */
export function retiringGraceSeconds (policy: Pick<Policy, 'accessTokenTTL' | 'refreshTokenTTL' | 'clockSkew' | 'jwksMaxAge' | 'keyRefreshInterval'>): number {
  return Math.max(policy.accessTokenTTL, policy.refreshTokenTTL) + policy.clockSkew + policy.jwksMaxAge + Math.ceil(policy.keyRefreshInterval)
}

export interface KeyTimes { status: KeyStatus, createdAt: Date, activatedAt: Date | null }

/**
 * How long a next key must sit in the database before it may sign. Every instance serves the JWKS
 * from memory and picks up a new key only on its next refresh, so the key is on every instance's
 * JWKS only `keyRefreshInterval` after it was written; from then on, one JWKS max-age later every
 * cache that honours max-age holds it.
 */
export function prePublicationSeconds (policy: Pick<Policy, 'jwksMaxAge' | 'keyRefreshInterval'>): number {
  return policy.jwksMaxAge + Math.ceil(policy.keyRefreshInterval)
}

/**
 * A scheduled rotation is due when the active key has served its interval and the next key has
 * been published long enough (see `prePublicationSeconds`) that every honest cache already has it.
 */
export function rotationDue (active: KeyTimes, next: KeyTimes, now: Date, policy: Pick<Policy, 'keyRotationInterval' | 'jwksMaxAge' | 'keyRefreshInterval'>): boolean {
  const activeSince = (active.activatedAt ?? active.createdAt).getTime()
  return now.getTime() - activeSince >= policy.keyRotationInterval * 1000 &&
    nextIsPublishedLongEnough(next, now, policy)
}

export function nextIsPublishedLongEnough (next: KeyTimes, now: Date, policy: Pick<Policy, 'jwksMaxAge' | 'keyRefreshInterval'>): boolean {
  return now.getTime() - next.createdAt.getTime() >= prePublicationSeconds(policy) * 1000
}
