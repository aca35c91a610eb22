/**
 * RFC 7591 §3 initial access tokens: what opens /register when REGISTRATION=token. Random 256-bit
 * values shown once; only their SHA-256 is stored, and each use is counted atomically.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { RegistrationTokenStore } from '../storage/types.js'
import { hashClientSecret } from './client_auth.js'

export interface NewRegistrationToken {
  id: string
  /** Shown once. */
  token: string
  expiresAt: Date | null
  maxUses: number | null
}

export async function createRegistrationToken (
  store: RegistrationTokenStore,
  options: { expiresInSeconds?: number, maxUses?: number, now?: Date },
): Promise<NewRegistrationToken> {
  const now = options.now ?? new Date()
  const token = randomBytes(32).toString('base64url')
  const id = randomBytes(8).toString('hex')
  const expiresAt = options.expiresInSeconds === undefined ? null : new Date(now.getTime() + options.expiresInSeconds * 1000)
  const maxUses = options.maxUses ?? null
  await store.create({ id, tokenHash: hashClientSecret(token), expiresAt, maxUses })
  return { id, token, expiresAt, maxUses }
}
