/**
 * Password policy for new and reset passwords (NIST SP 800-63B §3.1.1.2): a minimum and maximum
 * length, and a blocklist of commonly used passwords. No composition rules ("one digit, one
 * symbol"): NIST advises against them, length and the blocklist do the work.
 *
 * The blocklist is `assets/common_passwords.txt` (10,000 most common passwords of 8+ characters,
 * see assets/README.md), read once and kept as a Set; the check is local, there is no network call.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import type { Policy } from '../config/defaults.js'

/** Resolves from src/domain and dist/domain alike. */
const COMMON_PASSWORDS_FILE = new URL('../../assets/common_passwords.txt', import.meta.url)

let common: Set<string> | undefined

export function commonPasswords (): ReadonlySet<string> {
  common ??= new Set(readFileSync(COMMON_PASSWORDS_FILE, 'utf8').split('\n').filter(Boolean))
  return common
}

export class PasswordPolicy {
  readonly #policy: Policy['password']

  constructor (policy: Policy['password']) {
    this.#policy = policy
  }

  minLength (hasSecondFactor: boolean): number {
    return hasSecondFactor ? Math.min(this.#policy.minLength, this.#policy.minLengthWithSecondFactor) : this.#policy.minLength
  }

  /** Why `password` is not acceptable, or null when it is. The text is safe to show the user. */
  /**
   * `hasSecondFactor`: the user has a passkey or TOTP, so the password is one of two factors and
   * the shorter minimum applies (NIST SP 800-63B-4 §3.1.1.2).
   */
  violation (password: string, context: { username?: string, hasSecondFactor?: boolean } = {}): string | null {
    const length = [...password].length // code points, not UTF-16 units (NIST: "each Unicode code point")
    const min = this.minLength(context.hasSecondFactor ?? false)
    if (length < min) return `password must be at least ${min} characters`
    if (length > this.#policy.maxLength) return `password must be at most ${this.#policy.maxLength} characters`
    const lowered = password.toLowerCase()
    if (context.username !== undefined && lowered === context.username.toLowerCase()) return 'password must not be the username'
    if (this.#policy.rejectCommon && commonPasswords().has(lowered)) return 'password is too common; choose another'
    return null
  }
}
