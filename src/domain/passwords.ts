/**
 * Password hashing with argon2id (RFC 9106), OWASP minimum parameters by default.
 *
 * Unknown users cost the same as known ones: `verify` runs against a dummy hash, so response
 * time does not reveal which usernames exist.
 *
 * Passwords are NFC-normalized before hashing and verifying (RFC 8265 §4.2 OpaqueString
 * enforcement uses NFC), so an é typed as one code point and one typed as e + U+0301 are the same
 * password. Hashes made before that from a non-NFC password still verify: the raw form is tried
 * too, for every input that NFC changes, known user or not, so the work stays the same.
 *
 * A user created just in time from an upstream identity has no password: {@link NO_PASSWORD} is
 * stored, which is no argon2 hash. `verify` treats any such value like an unknown user (the dummy
 * hash does the work, the answer is false), so no input can ever match it on any sign-in path.
 *
 * @module
 */
import argon2 from 'argon2'
import type { Policy } from '../config/defaults.js'

/** The password hash of a user without a password (created just in time; signs in upstream). */
export const NO_PASSWORD = '!federated'

/** Whether `hash` is a real password hash (false: the user has none yet and may set one). */
export function hasUsablePassword (hash: string): boolean {
  return hash.startsWith('$argon2')
}

export class PasswordHasher {
  readonly #options: Policy['argon2'] & { type: typeof argon2.argon2id }
  #dummy?: Promise<string>

  constructor (params: Policy['argon2']) {
    this.#options = { ...params, type: argon2.argon2id }
  }

  hash (password: string): Promise<string> {
    return argon2.hash(password.normalize('NFC'), this.#options)
  }

  /** Verifies against `hash`, or against a dummy hash when the user does not exist. */
  async verify (hash: string | null, password: string): Promise<boolean> {
    this.#dummy ??= this.hash('stamp-dummy-password')
    const usable = hash !== null && hasUsablePassword(hash)
    const target = usable ? hash : await this.#dummy
    const nfc = password.normalize('NFC')
    let ok = await verifyOne(target, nfc)
    // No short cut: both forms are always tried when they differ, so timing says nothing.
    if (nfc !== password) ok = await verifyOne(target, password) || ok
    return ok && usable
  }

  /** True when `hash` was made with other parameters: re-hash transparently on the next login. */
  needsRehash (hash: string): boolean {
    return argon2.needsRehash(hash, this.#options)
  }
}

async function verifyOne (hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password)
  } catch {
    return false
  }
}
