/**
 * A user's second factors: TOTP (RFC 6238), passkeys (WebAuthn Level 3 with
 * @simplewebauthn/server) and recovery codes, behind one service the login, account and admin
 * routes share. Every one-time value is consumed atomically by the store; the TOTP secret is
 * sealed with the KEK (like signing keys), bound to the user id as additional data.
 *
 * WebAuthn: the RP ID is the issuer's host and the expected origin the issuer's origin
 * (WebAuthn §5.1.3 / §7.1 step 9), taken per request so a proxied public name works; attestation
 * `none` (Stamp keeps no authenticator allow-list); discoverable credentials (resident keys) so
 * a passkey can sign in without a username. Challenges are stored server-side, single use, bound
 * to the browser's binding cookie, and short-lived.
 *
 * @module
 */
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import QRCode from 'qrcode'
import { open, seal, type KEK } from '../crypto/kek.js'
import type { FactorPresence, FactorStore, PasskeyRecord, SignInFactorUse, TOTPRecord, UserRecord } from '../storage/types.js'
import { totpSecretAAD } from './sealed_values.js'
import { hashSecret, newId } from './browser_secrets.js'
import { hashRecoveryCode, newRecoveryCodes } from './recovery_codes.js'
import { matchingStep, newTOTPSecret, otpauthURI } from './totp.js'
import { passkeyMethods, type AuthenticationMethod } from './authentication_methods.js'

export interface SecondFactorsOptions {
  store: FactorStore
  kek: KEK
  /** Shown in authenticator apps and passkey prompts. */
  productName: string
  /** Seconds a WebAuthn challenge stays valid. */
  challengeTTL: number
  now?: () => Date
}

export interface FactorSummary {
  totp: boolean
  passkeys: PasskeyRecord[]
  recoveryCodesLeft: number
}

/** Where a WebAuthn ceremony runs: RP ID = the issuer's host, origin = its origin. */
export interface RelyingParty { rpID: string, origin: string }

export function relyingPartyFor (issuer: string): RelyingParty {
  const url = new URL(issuer)
  return { rpID: url.hostname, origin: url.origin }
}

export class PasskeyError extends Error {}

const aad = totpSecretAAD

/** What a user has enrolled (the admin API, the CLI and the account page show it). */
export async function factorSummary (store: Pick<FactorStore, 'findTOTP' | 'listPasskeys' | 'remainingRecoveryCodes'>, userId: string): Promise<FactorSummary> {
  const [totp, passkeys, recoveryCodesLeft] = await Promise.all([store.findTOTP(userId), store.listPasskeys(userId), store.remainingRecoveryCodes(userId)])
  return { totp: totp?.confirmedAt != null, passkeys, recoveryCodesLeft }
}

/** A confirmed TOTP or any passkey: recovery codes only stand in for those. */
export const hasSecondFactor = (presence: Pick<FactorPresence, 'totp' | 'passkeys'>): boolean => presence.totp || presence.passkeys > 0

export class SecondFactors {
  readonly #o: SecondFactorsOptions
  readonly #now: () => Date

  constructor (options: SecondFactorsOptions) {
    this.#o = options
    this.#now = options.now ?? (() => new Date())
  }

  summary (userId: string): Promise<FactorSummary> {
    return factorSummary(this.#o.store, userId)
  }

  /** What the sign-in's second step offers, in one read (no passkey records, only their number). */
  presence (userId: string): Promise<FactorPresence> {
    return this.#o.store.factorPresence(userId)
  }

  async hasSecondFactor (userId: string): Promise<boolean> {
    return hasSecondFactor(await this.presence(userId))
  }

  // --- TOTP ---------------------------------------------------------------------------------

  /**
   * Starts an enrolment (or shows the one in progress): the secret, its `otpauth://` URI and that
   * URI as an SVG QR code rendered here (no external service). Null when TOTP is already set up.
   */
  async beginTOTP (user: Pick<UserRecord, 'id' | 'username'>): Promise<{ secret: string, uri: string, qrSVG: string } | null> {
    const existing = await this.#o.store.findTOTP(user.id)
    if (existing?.confirmedAt) return null
    let secret: string
    if (existing && existing.kekId === this.#o.kek.id) {
      secret = open(this.#o.kek, existing.secretEnc, aad(user.id))
    } else {
      secret = newTOTPSecret()
      if (!await this.#o.store.beginTOTP({ userId: user.id, secretEnc: seal(this.#o.kek, secret, aad(user.id)), kekId: this.#o.kek.id })) return null
    }
    const uri = otpauthURI(secret, this.#o.productName, user.username)
    const qrSVG = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
    return { secret, uri, qrSVG }
  }

  /** Confirms the enrolment with a first code from the app; true when it was right. */
  async confirmTOTP (userId: string, code: string): Promise<boolean> {
    return this.#acceptTOTP(userId, code, true)
  }

  /** A sign-in code: right, within ±1 step, and of a later step than any code accepted before. */
  async verifyTOTP (userId: string, code: string): Promise<boolean> {
    return this.#acceptTOTP(userId, code, false)
  }

  async #acceptTOTP (userId: string, code: string, confirm: boolean): Promise<boolean> {
    const record = await this.#o.store.findTOTP(userId)
    const now = this.#now()
    const step = this.totpStep(record, code, confirm, now)
    if (step === null) return false
    return this.#o.store.acceptTOTPStep(userId, step, now, confirm)
  }

  /** The user's TOTP record, for {@link totpStep} (the sign-in reads it beside the user). */
  findTOTP (userId: string): Promise<TOTPRecord | null> {
    return this.#o.store.findTOTP(userId)
  }

  /**
   * The time step `code` matches (±1 step) for a confirmed factor (or one being confirmed), or
   * null. Whether it was used already is for the write that consumes it to decide: the sign-in
   * consumes it in its own transaction (SignInStore), {@link verifyTOTP} on its own.
   */
  totpStep (record: TOTPRecord | null, code: string, confirm = false, now = this.#now()): number | null {
    if (!record || (!confirm && !record.confirmedAt) || record.kekId !== this.#o.kek.id) return null
    return matchingStep(open(this.#o.kek, record.secretEnc, aad(record.userId)), code.replace(/\s/g, ''), now.getTime())
  }

  removeTOTP (userId: string): Promise<boolean> {
    return this.#o.store.removeTOTP(userId)
  }

  // --- recovery codes -----------------------------------------------------------------------

  /** New codes (shown once); the old ones stop working. */
  async regenerateRecoveryCodes (userId: string): Promise<string[]> {
    const codes = newRecoveryCodes()
    await this.#o.store.replaceRecoveryCodes(userId, codes.map((c) => hashRecoveryCode(c)!))
    return codes
  }

  /**
   * What a sign-in consumes in its transaction (SignInStore) for this code: its TOTP step, or the
   * recovery code's hash; null for a code that cannot be right (no such factor, no matching step,
   * not a recovery code's shape).
   */
  factorUse (userId: string, method: 'totp' | 'recovery', code: string, record: TOTPRecord | null): SignInFactorUse | null {
    if (method === 'totp') {
      const step = this.totpStep(record, code)
      return step === null ? null : { kind: 'totp', userId, step }
    }
    const codeHash = hashRecoveryCode(code)
    return codeHash === null ? null : { kind: 'recovery', userId, codeHash, now: this.#now() }
  }

  async useRecoveryCode (userId: string, code: string): Promise<boolean> {
    const hash = hashRecoveryCode(code)
    return hash !== null && this.#o.store.consumeRecoveryCode(userId, hash, this.#now())
  }

  resetAll (userId: string) {
    return this.#o.store.resetFactors(userId)
  }

  // --- passkeys -----------------------------------------------------------------------------

  async #challenge (browserSecret: string, challenge: string, purpose: 'register' | 'authenticate', userId: string | null): Promise<string> {
    const id = newId()
    await this.#o.store.createChallenge({
      id, browserHash: hashSecret(browserSecret), challenge, purpose, userId, expiresAt: new Date(this.#now().getTime() + this.#o.challengeTTL * 1000),
    })
    return id
  }

  /** Options for `navigator.credentials.create()`; `challengeId` goes back with the response. */
  async registrationOptions (user: Pick<UserRecord, 'id' | 'username'>, browserSecret: string, rp: RelyingParty): Promise<{ challengeId: string, options: PublicKeyCredentialCreationOptionsJSON }> {
    const existing = await this.#o.store.listPasskeys(user.id)
    const options = await generateRegistrationOptions({
      rpName: this.#o.productName,
      rpID: rp.rpID,
      userName: user.username,
      // The user handle is the user id: a discoverable credential names its user with it.
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports as never })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      timeout: this.#o.challengeTTL * 1000,
    })
    return { challengeId: await this.#challenge(browserSecret, options.challenge, 'register', user.id), options }
  }

  /**
   * Verifies and stores a new passkey for `user`; `userVerified` is the registration's UV flag
   * (an enrolment at sign-in counts it as the passkey's first use, as a TOTP enrolment counts its
   * confirming code).
   */
  async register (user: Pick<UserRecord, 'id'>, browserSecret: string, rp: RelyingParty, challengeId: string, response: RegistrationResponseJSON, name: string): Promise<PasskeyRecord & { userVerified: boolean }> {
    const challenge = await this.#o.store.takeChallenge(challengeId, hashSecret(browserSecret), this.#now())
    if (!challenge || challenge.purpose !== 'register' || challenge.userId !== user.id) throw new PasskeyError('the passkey request has expired; try again')
    let result
    try {
      result = await verifyRegistrationResponse({ response, expectedChallenge: challenge.challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID, requireUserVerification: false })
    } catch (err) {
      throw new PasskeyError('the passkey could not be verified', { cause: err })
    }
    if (!result.verified) throw new PasskeyError('the passkey could not be verified')
    const info = result.registrationInfo
    if (await this.#o.store.findPasskey(info.credential.id)) throw new PasskeyError('this passkey is already registered')
    const record = {
      id: info.credential.id,
      userId: user.id,
      publicKey: info.credential.publicKey,
      signCount: info.credential.counter,
      backupEligible: info.credentialDeviceType === 'multiDevice',
      backupState: info.credentialBackedUp,
      transports: info.credential.transports ?? [],
      name: name.trim().slice(0, 64) || 'Passkey',
    }
    await this.#o.store.addPasskey(record)
    return { ...record, createdAt: this.#now(), lastUsedAt: null, userVerified: info.userVerified }
  }

  /**
   * Options for `navigator.credentials.get()`. Without a user (passwordless, conditional UI)
   * `allowCredentials` is empty: the authenticator offers its discoverable credentials.
   */
  async authenticationOptions (browserSecret: string, rp: RelyingParty, userId: string | null): Promise<{ challengeId: string, options: PublicKeyCredentialRequestOptionsJSON }> {
    const passkeys = userId ? await this.#o.store.listPasskeys(userId) : []
    const options = await generateAuthenticationOptions({
      rpID: rp.rpID,
      allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports as never })),
      userVerification: 'preferred',
      timeout: this.#o.challengeTTL * 1000,
    })
    return { challengeId: await this.#challenge(browserSecret, options.challenge, 'authenticate', userId), options }
  }

  /**
   * Verifies an assertion: the challenge (this browser's, unexpired, once), the credential (known,
   * and the expected user's when the challenge named one), origin, RP ID and signature. Returns
   * the user id and the RFC 8176 methods it proves. No argon2 on this path.
   */
  async authenticate (browserSecret: string, rp: RelyingParty, challengeId: string, response: AuthenticationResponseJSON): Promise<{ userId: string, methods: AuthenticationMethod[], passkey: PasskeyRecord }> {
    const challenge = await this.#o.store.takeChallenge(challengeId, hashSecret(browserSecret), this.#now())
    if (!challenge || challenge.purpose !== 'authenticate') throw new PasskeyError('the passkey request has expired; try again')
    const passkey = typeof response?.id === 'string' ? await this.#o.store.findPasskey(response.id) : null
    if (!passkey || (challenge.userId !== null && passkey.userId !== challenge.userId)) throw new PasskeyError('this passkey is not registered here')
    const result = await this.verifyAssertion(passkey, challenge.challenge, rp, response)
    await this.#o.store.passkeyUsed(passkey.id, result.newCounter, result.backedUp, this.#now())
    return { userId: passkey.userId, methods: passkeyMethods(passkey, result.userVerified), passkey }
  }

  /** The signature check alone (the benchmark measures it). */
  async verifyAssertion (passkey: PasskeyRecord, expectedChallenge: string, rp: RelyingParty, response: AuthenticationResponseJSON) {
    let result
    try {
      result = await verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpID,
        credential: { id: passkey.id, publicKey: new Uint8Array(passkey.publicKey), counter: passkey.signCount, transports: passkey.transports as never },
        requireUserVerification: false,
      })
    } catch (err) {
      throw new PasskeyError('the passkey could not be verified', { cause: err })
    }
    if (!result.verified) throw new PasskeyError('the passkey could not be verified')
    const info = result.authenticationInfo
    return { newCounter: info.newCounter, backedUp: info.credentialBackedUp, userVerified: info.userVerified }
  }

  renamePasskey (userId: string, id: string, name: string): Promise<boolean> {
    return this.#o.store.renamePasskey(userId, id, name.trim().slice(0, 64) || 'Passkey')
  }

  removePasskey (userId: string, id: string): Promise<boolean> {
    return this.#o.store.removePasskey(userId, id)
  }
}
