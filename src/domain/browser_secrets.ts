/**
 * Secrets that live in browser cookies (the SSO session and the pre-login binding), and the CSRF
 * tokens derived from them.
 *
 * Only SHA-256 of a cookie secret is stored, so a database leak yields no usable cookie. A form's
 * CSRF token is HMAC(cookie secret, purpose ‖ request id): a page on another site can neither read
 * the HttpOnly cookie nor compute the token, and a token copied from one request is useless for
 * another (OWASP CSRF Cheat Sheet, "signed double-submit cookie").
 *
 * @module
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** 256 bits, base64url. */
export function newSecret (): string {
  return randomBytes(32).toString('base64url')
}

/** 128 bits, base64url: identifiers that must not be guessable (session ids, request ids). */
export function newId (): string {
  return randomBytes(16).toString('base64url')
}

export function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** `device_*`: the RFC 8628 verification pages (code entry, the step links, sign-in, approval). */
export type CSRFPurpose = 'login' | 'consent' | 'logout' | 'factor' | 'account' | 'device_entry' | 'device_step' | 'device_login' | 'device_approve' | 'forgot' | 'reset' | 'verify' | 'signup' | 'link'

export function csrfToken (secret: string, purpose: CSRFPurpose, id: string): string {
  return createHmac('sha256', secret).update(`${purpose}\0${id}`).digest('base64url')
}

export function verifyCSRF (secret: string | undefined, purpose: CSRFPurpose, id: string, token: string | undefined): boolean {
  if (!secret || !token) return false
  const expected = Buffer.from(csrfToken(secret, purpose, id))
  const actual = Buffer.from(token)
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** Constant-time check that `secret` is the one whose hash was stored. */
export function secretMatches (secret: string | undefined, storedHash: string): boolean {
  if (!secret) return false
  const a = Buffer.from(hashSecret(secret), 'hex')
  const b = Buffer.from(storedHash, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}
