/**
 * Password hashing with argon2id (RFC 9106), OWASP minimum parameters by default.
 *
 * Unknown users cost the same as known ones: `verify` runs against a dummy hash, so response
 * time does not reveal which usernames exist.
 *
 * @module
 */
import argon2 from 'argon2'
import type { Policy } from '../config/defaults.js'

export class PasswordHasher {
  readonly #options: Policy['argon2'] & { type: typeof argon2.argon2id }
  #dummy?: Promise<string>

  constructor (params: Policy['argon2']) {
    this.#options = { ...params, type: argon2.argon2id }
  }

  hash (password: string): Promise<string> {
    return argon2.hash(password, this.#options)
  }

  /** Verifies against `hash`, or against a dummy hash when the user does not exist. */
  async verify (hash: string | null, password: string): Promise<boolean> {
    this.#dummy ??= this.hash('stamp-dummy-password')
    const target = hash ?? await this.#dummy
    try {
      const ok = await argon2.verify(target, password)
      return ok && hash !== null
    } catch {
      return false
    }
  }

  /** True when `hash` was made with other parameters: re-hash transparently on the next login. */
  needsRehash (hash: string): boolean {
    return argon2.needsRehash(hash, this.#options)
  }
}
