/**
 * Recovery codes: ten single-use codes shown once, stored as SHA-256. Each carries 50 random bits
 * (10 base32 characters, shown as `xxxxx-xxxxx`): far beyond what an online guesser can try at
 * the login rate limit, and enough that a fast hash is no weakness (like a session secret).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'
import { base32Encode } from './totp.js'

export const RECOVERY_CODE_COUNT = 10

export function newRecoveryCodes (count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const text = base32Encode(randomBytes(7)).slice(0, 10).toLowerCase()
    return `${text.slice(0, 5)}-${text.slice(5)}`
  })
}

/** What users type varies (case, spaces, the dash); the hash is of the canonical form. */
export function normalizeRecoveryCode (input: string): string | null {
  const clean = input.toLowerCase().replace(/[\s-]/g, '')
  return /^[a-z2-7]{10}$/.test(clean) ? clean : null
}

export function hashRecoveryCode (code: string): string | null {
  const normal = normalizeRecoveryCode(code)
  return normal === null ? null : createHash('sha256').update('stamp-recovery:' + normal).digest('hex')
}
