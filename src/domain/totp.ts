/**
 * RFC 6238 time-based one-time passwords (TOTP) on RFC 4226 HOTP, with node:crypto: HMAC-SHA-1,
 * 6 digits, 30-second steps (what every authenticator app implements by default), and the
 * `otpauth://` URI the apps scan (Google Authenticator "Key Uri Format").
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export const TOTP_PERIOD = 30
export const TOTP_DIGITS = 6
/** RFC 4226 §4 R6: "The length of the shared secret MUST be at least 128 bits. This document RECOMMENDs a shared secret length of 160 bits." */
const SECRET_BYTES = 20

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 §6 base32 without padding (what authenticator apps expect). */
export function base32Encode (bytes: Uint8Array): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

export function base32Decode (text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '')
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const c of clean) {
    const index = BASE32.indexOf(c)
    if (index < 0) throw new TypeError('not base32')
    value = (value << 5) | index
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

export function newTOTPSecret (): string {
  return base32Encode(randomBytes(SECRET_BYTES))
}

/** RFC 4226 §5.3 HOTP(K, C) with dynamic truncation; `algorithm` for RFC 6238's SHA-256/512 test vectors. */
export function hotp (key: Buffer, counter: number, digits = TOTP_DIGITS, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1'): string {
  const message = Buffer.alloc(8)
  message.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac(algorithm, key).update(message).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3]
  return String(binary % 10 ** digits).padStart(digits, '0')
}

/** RFC 6238 §4.2: T = floor((now - T0) / X), T0 = 0. */
export function timeStep (nowMs: number, period = TOTP_PERIOD): number {
  return Math.floor(nowMs / 1000 / period)
}

export function totp (secret: string, nowMs: number): string {
  return hotp(base32Decode(secret), timeStep(nowMs))
}

/**
 * The time step `code` is valid for, within ±`window` steps of now (RFC 6238 §5.2: "We
 * RECOMMEND that at most one time step is allowed as the network delay"), or null. Every
 * candidate is compared in constant time, so timing does not reveal which step matched.
 * Refusing a step already used is the store's job (an atomic update of the last used step).
 */
export function matchingStep (secret: string, code: string, nowMs: number, window = 1): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const key = base32Decode(secret)
  const current = timeStep(nowMs)
  let found: number | null = null
  for (let step = current - window; step <= current + window; step++) {
    const expected = Buffer.from(hotp(key, step))
    if (timingSafeEqual(expected, Buffer.from(code)) && found === null) found = step
  }
  return found
}

/** The `otpauth://totp/` URI for the QR code: issuer and account label, parameters spelled out. */
export function otpauthURI (secret: string, issuer: string, account: string): string {
  const label = encodeURIComponent(`${issuer}:${account}`)
  const q = new URLSearchParams({ secret, issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_PERIOD) })
  return `otpauth://totp/${label}?${q}`
}
