/**
 * RFC 8628 device authorization: the codes, and the guard against guessing user codes.
 *
 * - The device code is 256 random bits, stored as SHA-256: only the device ever sees it.
 * - The user code is by default 8 characters from a 20-letter alphabet without vowels (§6.1: "a
 *   case-insensitive ... base-20 character set ... of 8 characters ... excluding vowels"), so no
 *   word can be spelled; 20^8 ≈ 2^34.6 codes (DEVICE_USER_CODE_LENGTH and _CHARSET change both).
 *   It is shown in two halves (XXXX-XXXX) and compared after upper-casing and dropping dashes and
 *   spaces. It is stored as SHA-256 too.
 * - §5.1: "the authorization server MUST rate-limit" user code attempts. Wrong codes are counted
 *   per browser and per IP address (the same counter store as the login throttle: per instance,
 *   or Redis); past a threshold the device pages refuse that browser (or address) for a while.
 *
 * @module
 */
import { createHash, randomBytes, randomInt } from 'node:crypto'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord, DeviceAuthorizationRecord, DeviceAuthorizationStore } from '../storage/types.js'
import type { ThrottleStore } from './login_throttle.js'

/** RFC 8628 §3.4 */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
/** §6.1's example base-20 alphabet: consonants only. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ'
export const USER_CODE_LENGTH = 8
/** §3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests". */
export const SLOW_DOWN_STEP = 5

export function sha256 (value: string): string {
  return createHash('sha256').update(value).digest('hex')
}

/** How user codes look (DEVICE_USER_CODE_LENGTH, DEVICE_USER_CODE_CHARSET). */
export type UserCodeFormat = Pick<Policy['deviceFlow'], 'userCodeLength' | 'userCodeAlphabet'>
const DEFAULT_FORMAT: UserCodeFormat = { userCodeLength: USER_CODE_LENGTH, userCodeAlphabet: USER_CODE_ALPHABET }

export function newUserCode (format: UserCodeFormat = DEFAULT_FORMAT): string {
  const alphabet = format.userCodeAlphabet
  let code = ''
  for (let i = 0; i < format.userCodeLength; i++) code += alphabet[randomInt(alphabet.length)]
  return code
}

/** Two halves with a dash (XXXX-XXXX), as shown to the user. */
export function formatUserCode (code: string): string {
  const half = Math.ceil(code.length / 2)
  return `${code.slice(0, half)}-${code.slice(half)}`
}

/** The canonical form of what a user typed, or null when it cannot be a user code. */
export function normalizeUserCode (input: string | undefined, format: UserCodeFormat = DEFAULT_FORMAT): string | null {
  if (input === undefined) return null
  const code = input.toUpperCase().replace(/[\s-]/g, '')
  if (code.length !== format.userCodeLength) return null
  for (const c of code) if (!format.userCodeAlphabet.includes(c)) return null
  return code
}

/**
 * §3.2 `verification_uri` (the setting, or the issuer's page) and `verification_uri_complete`
 * (§3.3.1: the user code included, "so the user does not need to type it").
 */
export function verificationURIs (shownCode: string, issuerPage: string, configured: string | null): { verificationUri: string, verificationUriComplete: string } {
  const verificationUri = configured ?? issuerPage
  const url = new URL(verificationUri)
  url.searchParams.set('user_code', shownCode)
  return { verificationUri, verificationUriComplete: url.href }
}

export interface StartedDeviceAuthorization {
  deviceCode: string
  userCode: string
  record: DeviceAuthorizationRecord
}

/** Creates a device authorization, drawing another user code in the rare case one is taken. */
export async function startDeviceAuthorization (
  store: DeviceAuthorizationStore, policy: Pick<Policy, 'deviceFlow'>,
  request: { client: ClientRecord, scope: string, audience: string[] }, now = new Date(),
): Promise<StartedDeviceAuthorization> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const deviceCode = randomBytes(32).toString('base64url')
    const userCode = newUserCode(policy.deviceFlow)
    const record = {
      id: randomBytes(16).toString('base64url'),
      deviceCodeHash: sha256(deviceCode),
      userCodeHash: sha256(userCode),
      clientId: request.client.id,
      scope: request.scope,
      audience: request.audience,
      interval: policy.deviceFlow.interval,
      expiresAt: new Date(now.getTime() + policy.deviceFlow.codeTTL * 1000),
    }
    if (await store.create(record)) {
      return { deviceCode, userCode, record: { ...record, status: 'pending', lastPolledAt: null, userId: null, sessionId: null, authTime: null, decidedAt: null } }
    }
  }
  // Five clashes in a row means the live codes fill a noticeable part of the space: refuse, do not loop.
  throw new Error('could not draw an unused user code')
}

export type GuardDecision = { allowed: true } | { allowed: false, retryAfter: number }

/**
 * Counts wrong user codes per browser (its binding cookie's hash) and per IP address; a browser
 * or address over its threshold is refused until `blockSeconds` after its last failure.
 */
export class UserCodeGuard {
  readonly #store: ThrottleStore
  readonly #policy: Policy['deviceFlow']
  readonly #now: () => number

  constructor (store: ThrottleStore, policy: Policy['deviceFlow'], now: () => number = Date.now) {
    this.#store = store
    this.#policy = policy
    this.#now = now
  }

  async check (browserHash: string | undefined, ip: string): Promise<GuardDecision> {
    const now = this.#now()
    const [browser, address] = await Promise.all([
      browserHash ? this.#store.get(this.#browserKey(browserHash)) : null,
      this.#store.get(this.#ipKey(ip)),
    ])
    const wait = Math.max(
      this.#remaining(browser, this.#policy.browserFailures, now),
      this.#remaining(address, this.#policy.ipFailures, now),
    )
    return wait > 0 ? { allowed: false, retryAfter: Math.ceil(wait / 1000) } : { allowed: true }
  }

  /** Counts one wrong code; true when this failure blocked the browser or the address. */
  async failed (browserHash: string | undefined, ip: string): Promise<boolean> {
    const now = this.#now()
    await Promise.all([
      browserHash ? this.#store.fail(this.#browserKey(browserHash), now, this.#policy.failureWindow) : undefined,
      this.#store.fail(this.#ipKey(ip), now, this.#policy.failureWindow),
    ])
    return !(await this.check(browserHash, ip)).allowed
  }

  #remaining (count: { failures: number, lastFailure: number } | null, threshold: number, now: number): number {
    if (!count || count.failures < threshold) return 0
    return Math.max(0, count.lastFailure + this.#policy.blockSeconds * 1000 - now)
  }

  #browserKey (browserHash: string) { return `device:b:${browserHash.slice(0, 32)}` }
  #ipKey (ip: string) { return `device:ip:${ip}` }
}
