/**
 * Usernames as PRECIS UsernameCaseMapped (RFC 8265 §3.3): what makes two usernames the same
 * user, and which characters a username may not have.
 *
 * - The key (`usernameKey`) is what uniqueness and sign-in compare: width mapping (fullwidth and
 *   halfwidth forms to their decompositions, §3.3.1 rule 1), case mapping to lower case (rule 3),
 *   then NFC (rule 4). So `Alice`, `alice`, `ＡＬＩＣＥ` and an NFD-typed `José` vs an NFC one are
 *   each one user. The username as shown keeps its case (NFC-normalized).
 * - Refused (`usernameProblem`): controls, separators (spaces), format characters (zero-width
 *   characters, bidi controls such as U+202E that reorder what an admin reads, soft hyphens, BOM),
 *   private-use, unassigned code points and lone surrogates: PRECIS IdentifierClass disallows them
 *   (RFC 8264 §9.11, §9.12) and they let two different-looking names look the same.
 *
 * @module
 */

import type { UsernameForms } from '../storage/types.js'

export const USERNAME_MAX_LENGTH = 128

/** Control, format (zero-width, bidi), separator, private-use, surrogate, unassigned. */
const DISALLOWED = /[\p{Cc}\p{Cf}\p{Z}\p{Co}\p{Cs}\p{Cn}]/u
/** Fullwidth and halfwidth forms block (U+FF01–U+FFEE): their compatibility decompositions. */
const WIDTH_FORMS = /[\uFF01-\uFFEE]/g

/** The form a username is stored and shown in: NFC, case kept. */
export function displayUsername (username: string): string {
  return username.normalize('NFC')
}

/** RFC 8265 §3.3.1 enforcement (width mapping, lower case, NFC): the comparison key. */
export function usernameKey (username: string): string {
  return username.replace(WIDTH_FORMS, (c) => c.normalize('NFKC')).toLowerCase().normalize('NFC')
}

/** Why `username` cannot be registered, or undefined when it can. */
export function usernameProblem (username: string): string | undefined {
  if (username.length === 0) return 'username must not be empty'
  if (DISALLOWED.test(username)) return 'username must not contain spaces, control, zero-width or bidirectional formatting characters'
  if (usernameKey(username).length > USERNAME_MAX_LENGTH) return `username must be at most ${USERNAME_MAX_LENGTH} characters`
  return undefined
}

/** What the user store applies: shown as displayUsername, compared by usernameKey. */
export const USERNAME_FORMS: UsernameForms = { display: displayUsername, key: usernameKey }
