/**
 * How a user authenticated, in the vocabulary of RFC 8176 (Authentication Method Reference
 * Values) and OIDC Core §2 (`acr`), and the rules that decide whether that is enough for a
 * request (`acr_values`, MFA policy) — pure functions, no I/O.
 *
 * Stamp's two authentication context classes:
 * - {@link ACR_SINGLE_FACTOR}: one factor (a password).
 * - {@link ACR_MULTI_FACTOR}: two factors (password + one-time code or passkey), or a passkey with
 *   user verification alone (something held plus a PIN or biometric: RFC 8176 `mfa`).
 *
 * @module
 */

/** RFC 8176 §2 values Stamp emits. `fed` is added by federated sign-in. */
export type AuthenticationMethod = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'mfa' | 'fed'

export const ACR_SINGLE_FACTOR = 'urn:stamp:acr:sfa'
export const ACR_MULTI_FACTOR = 'urn:stamp:acr:mfa'
/** Weakest first: a request for a class is met by it or any stronger one. */
export const ACR_VALUES = [ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR] as const
export type ACR = typeof ACR_VALUES[number]

/** Factors that count towards `mfa`: a knowledge factor and a possession factor are different kinds. */
const KIND: Partial<Record<AuthenticationMethod, 'knowledge' | 'possession' | 'federation'>> = {
  pwd: 'knowledge', otp: 'possession', hwk: 'possession', swk: 'possession', fed: 'federation',
}

/**
 * The `amr` of a passkey assertion: `hwk` for a device-bound key, `swk` for a synced one (backup
 * eligible: the private key leaves the device), `user` when the authenticator verified the user
 * (WebAuthn UV flag), which with the key itself is two factors.
 */
export function passkeyMethods (credential: { backupEligible: boolean }, userVerified: boolean): AuthenticationMethod[] {
  const key: AuthenticationMethod = credential.backupEligible ? 'swk' : 'hwk'
  return userVerified ? [key, 'user'] : [key]
}

/**
 * Combines what each step proved into one `amr`, in a stable order, adding `mfa` (RFC 8176:
 * "Multiple-factor authentication") when two kinds of factor were used, or a key with user
 * verification.
 */
export function combineMethods (...steps: readonly (readonly string[])[]): AuthenticationMethod[] {
  const set = new Set(steps.flat().filter((m) => m !== 'mfa') as AuthenticationMethod[])
  const kinds = new Set([...set].map((m) => KIND[m]).filter(Boolean))
  const keyWithUser = (set.has('hwk') || set.has('swk')) && set.has('user')
  const order: AuthenticationMethod[] = ['fed', 'pwd', 'otp', 'hwk', 'swk', 'user']
  const out = order.filter((m) => set.has(m))
  if (kinds.size >= 2 || keyWithUser) out.push('mfa')
  return out
}

/** The class an `amr` reaches. */
export function acrFor (amr: readonly string[]): ACR {
  return amr.includes('mfa') ? ACR_MULTI_FACTOR : ACR_SINGLE_FACTOR
}

function rank (acr: string | null | undefined): number {
  return ACR_VALUES.indexOf(acr as ACR)
}

/**
 * The class to aim for given `acr_values` (OIDC Core §3.1.2.1, "in order of preference"): the
 * first value Stamp knows; unknown values are ignored (it is a voluntary claim unless requested
 * as essential, which Stamp does not support: no `claims` parameter). Undefined when none is known.
 */
export function requestedACR (acrValues: readonly string[]): ACR | undefined {
  return acrValues.find((v): v is ACR => rank(v) >= 0)
}

export type MFAMode = 'off' | 'optional' | 'required'

export interface MFAContext {
  /** Global policy (env MFA). */
  mode: MFAMode
  /** The client's `requireMfa`. */
  clientRequires: boolean
  /** The user's `mfaRequired` (set by an administrator). */
  userRequires: boolean
  /** The user has a confirmed second factor (TOTP or passkey). */
  hasSecondFactor: boolean
  /** The class the request asks for (acr_values), if any. */
  requested?: ACR
}

/**
 * What a successful first factor (a password) leads to:
 * - `done`: signed in with the password alone;
 * - `second_factor`: the user must present a second factor;
 * - `enrol`: a second factor is required but the user has none: they enrol one now.
 *
 * With MFA `off`, factors are neither asked for nor enrolled, unless a client, the user's
 * setting or the request itself demands MFA (an explicit requirement beats the global default).
 */
export function afterFirstFactor (ctx: MFAContext): 'done' | 'second_factor' | 'enrol' {
  const required = ctx.mode === 'required' || ctx.clientRequires || ctx.userRequires || ctx.requested === ACR_MULTI_FACTOR
  if (required) return ctx.hasSecondFactor ? 'second_factor' : 'enrol'
  if (ctx.mode === 'optional' && ctx.hasSecondFactor) return 'second_factor'
  return 'done'
}

/** Whether a session's authentication meets what the client and request demand (no new prompt). */
export function sessionSatisfies (session: { acr: string | null }, demand: { requested?: ACR, mfaRequired: boolean }): boolean {
  const needed = demand.mfaRequired ? ACR_MULTI_FACTOR : demand.requested
  if (needed === undefined) return true
  return rank(session.acr ?? ACR_SINGLE_FACTOR) >= rank(needed)
}
