/**
 * Proof Key for Code Exchange (RFC 7636), S256 only. "plain" exists for clients that cannot hash;
 * every client today can, and RFC 9700 §2.1.1 says to use S256, so Stamp refuses it.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto'

export type CodeChallengeMethod = 'S256'
export const CODE_CHALLENGE_METHODS: readonly CodeChallengeMethod[] = ['S256']

/** RFC 7636 §4.1: code-verifier = 43*128unreserved */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/
/** An S256 challenge is BASE64URL(SHA256(verifier)): always 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/

export function isValidChallenge (challenge: string, method: string): boolean {
  return method === 'S256' && S256_CHALLENGE.test(challenge)
}

/** RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) */
export function s256 (verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url')
}

/**
 * RFC 7636 §4.6: the server "MUST verify" the verifier against the stored challenge. Compared in
 * constant time: the challenge is not secret, but a timing oracle on it costs nothing to avoid.
 */
export function verifyPKCE (verifier: string | undefined, challenge: string, method: string): boolean {
  if (verifier === undefined || !VERIFIER.test(verifier) || method !== 'S256') return false
  const expected = Buffer.from(challenge)
  const actual = Buffer.from(s256(verifier))
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}
