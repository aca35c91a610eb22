/**
 * Accounts by mail: password reset, address verification, self-registration and invitations.
 *
 * Every link is a 256-bit random token sent only by mail; the database keeps its SHA-256, its
 * purpose, the address and an expiry (account_tokens). A link is consumed in one conditional
 * UPDATE together with its effect (storage/types.ts AccountTokenStore), so it works once.
 *
 * No enumeration (OWASP Forgot Password Cheat Sheet: "Return a consistent message for both
 * existent and non-existent accounts", "Ensure that responses return in a consistent amount of
 * time"): {@link Accounts.requestReset} resolves the same way whatever the address, and mail goes
 * out in the background ({@link MailOutbox}), so an SMTP round trip does not show in the response
 * time. A sign-up naming an address that already has an account gets the same answer, and that
 * address gets a mail saying so (with a link to reset) instead of a verification link.
 *
 * Mails per address are capped (`policy.accounts.mailsPerAddress` per `mailWindow`): a request
 * beyond the cap sends nothing, and answers the same.
 *
 * @module
 */
import { hashSecret, newId, newSecret } from './browser_secrets.js'
import type { AuditLog } from './audit.js'
import type { Policy } from '../config/defaults.js'
import type { Locale } from '../i18n/messages.js'
import type { AccountTokenPurpose, AccountTokenRecord, AccountTokenStore, UserRecord, UserStore } from '../storage/types.js'
import type { MailKind } from '../mail/templates.js'

/** Where mail goes: composed and delivered in the background by the caller's outbox. */
export interface MailOutbox {
  /** Queues a mail; resolves once it is queued, not delivered. */
  queue(kind: MailKind, locale: Locale, to: string, values: { link: string, validFor: number, username?: string, provider?: string }): void
}

/** Paths of the hosted pages the links open, relative to the issuer. */
export const ACCOUNT_PAGES = {
  forgot: '/password/forgot',
  reset: '/password/reset',
  verify: '/email/verify',
  signup: '/signup',
  /** A mailed confirmation of a federated link (routes/oauth/federation_link_mail.ts). */
  confirmLink: '/federation/link/confirm',
} as const

export interface AccountsOptions {
  tokens: AccountTokenStore
  users: UserStore
  outbox: MailOutbox
  audit: AuditLog
  policy: Policy['accounts']
  now?: () => Date
}

export interface RequestContext {
  /** The public issuer the links are built on. */
  issuer: string
  locale: Locale
  ip?: string
  /** Who asked: an admin's sub or `cli`; absent when the user did. */
  actor?: string
}

/** Email addresses as links and rate limits key them: trimmed, lower case. */
export function normalizeEmail (email: string): string {
  return email.trim().toLowerCase()
}

/** A deliberately loose check (one @, a dot in the domain, no spaces): the mail proves the rest. */
export function emailProblem (email: string): string | undefined {
  if (email.length > 254) return 'too_long'
  return /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>".]+$/.test(email) ? undefined : 'invalid'
}

export class Accounts {
  readonly #o: AccountsOptions
  readonly #now: () => Date

  constructor (options: AccountsOptions) {
    this.#o = options
    this.#now = options.now ?? (() => new Date())
  }

  async #issue (purpose: AccountTokenPurpose, email: string, ttl: number, extra: { userId?: string, scopes?: string[], createdBy?: string, pendingLinkId?: string }) {
    const secret = newSecret()
    const record = await this.#o.tokens.create({
      id: newId(), tokenHash: hashSecret(secret), purpose, email: normalizeEmail(email), userId: extra.userId ?? null,
      scopes: extra.scopes ?? [], createdBy: extra.createdBy ?? null, expiresAt: new Date(this.#now().getTime() + ttl * 1000),
      pendingLinkId: extra.pendingLinkId ?? null,
    })
    return { secret, record }
  }

  /** Whether another mail of `purpose` may go to `email` now (the per-address cap). */
  async #underCap (purpose: AccountTokenPurpose, email: string): Promise<boolean> {
    const since = new Date(this.#now().getTime() - this.#o.policy.mailWindow * 1000)
    return await this.#o.tokens.countSince(normalizeEmail(email), purpose, since) < this.#o.policy.mailsPerAddress
  }

  /**
   * "Forgot password": mails a reset link to every active user with this address. Answers
   * nothing either way; the audit trail records the request (the user id when there is one).
   */
  async requestReset (email: string, ctx: RequestContext): Promise<void> {
    const users = emailProblem(email) ? [] : (await this.#o.users.findByEmail(email.trim())).filter((u) => !u.disabled)
    if (!users.length) {
      await this.#o.audit.record({ type: 'password_reset_requested', ip: ctx.ip, detail: { known: false } })
      return
    }
    for (const user of users) await this.sendReset(user, ctx)
  }

  /** Mails `user` a reset link (also the admin API's and CLI's "send a reset email"). False: capped, or no address. */
  async sendReset (user: UserRecord, ctx: RequestContext): Promise<boolean> {
    if (!user.email) return false
    const capped = !await this.#underCap('reset_password', user.email)
    await this.#o.audit.record({
      type: 'password_reset_requested', actor: ctx.actor ?? null, subject: user.id, ip: ctx.ip,
      detail: { known: true, sent: !capped, ...(ctx.actor ? { by_admin: true } : {}) },
    })
    if (capped) return false
    const ttl = this.#o.policy.resetLinkTTL
    const { secret } = await this.#issue('reset_password', user.email, ttl, { userId: user.id, createdBy: ctx.actor })
    this.#o.outbox.queue('reset_password', ctx.locale, user.email, {
      link: `${ctx.issuer}${ACCOUNT_PAGES.reset}?token=${secret}`, validFor: Math.round(ttl / 60), username: user.username,
    })
    return true
  }

  /** The live link behind `token`, for rendering its form (not consumed). */
  async liveLink (token: string | undefined, purpose: AccountTokenPurpose): Promise<AccountTokenRecord | null> {
    if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null
    return this.#o.tokens.findLive(hashSecret(token), purpose, this.#now())
  }

  /**
   * Consumes a reset link and sets the password (already checked against the policy and hashed).
   * The caller then ends the user's sessions and refresh families and records `password_reset`.
   */
  async resetPassword (token: string, passwordHash: string): Promise<{ userId: string } | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null
    return this.#o.tokens.resetPassword(hashSecret(token), passwordHash, this.#now())
  }

  /** Mails `user` a link that verifies their address. False: capped, or no address. */
  async sendVerification (user: UserRecord, ctx: RequestContext): Promise<boolean> {
    if (!user.email || !await this.#underCap('verify_email', user.email)) return false
    const ttl = this.#o.policy.verifyLinkTTL
    const { secret } = await this.#issue('verify_email', user.email, ttl, { userId: user.id, createdBy: ctx.actor })
    this.#o.outbox.queue('verify_email', ctx.locale, user.email, {
      link: `${ctx.issuer}${ACCOUNT_PAGES.verify}?token=${secret}`, validFor: Math.round(ttl / 60), username: user.username,
    })
    await this.#o.audit.record({ type: 'email_verification_sent', actor: ctx.actor ?? null, subject: user.id, ip: ctx.ip })
    return true
  }

  /**
   * Mails `user` a link that confirms a pending federated link (issue 16: linking only after the
   * account's owner proves control of it). Only to an address the user verified, within the
   * per-address cap; the link lives no longer than the pending link. Answers nothing either way
   * (the caller shows one page whatever happened); the audit trail says whether a mail went out.
   */
  async sendLinkConfirmation (user: UserRecord, pending: { id: string, expiresAt: Date }, provider: string, ctx: RequestContext & { clientId?: string }): Promise<boolean> {
    const reason = !user.email || !user.emailVerifiedAt ? 'no_verified_email' : user.disabled ? 'disabled' : !await this.#underCap('link_identity', user.email) ? 'capped' : undefined
    await this.#o.audit.record({
      type: 'federated_link_mail_requested', subject: user.id, clientId: ctx.clientId, ip: ctx.ip,
      detail: { provider, sent: reason === undefined, ...(reason ? { reason } : {}) },
    })
    if (reason) return false
    const ttl = this.#linkTTL(pending)
    if (ttl <= 0) return false
    const { secret } = await this.#issue('link_identity', user.email!, ttl, { userId: user.id, pendingLinkId: pending.id })
    this.#o.outbox.queue('link_identity', ctx.locale, user.email!, {
      link: `${ctx.issuer}${ACCOUNT_PAGES.confirmLink}?token=${secret}`, validFor: this.linkMailMinutes(pending), username: user.username, provider,
    })
    return true
  }

  /** Minutes a link-confirmation link for `pending` lives, as both the mail and the page after it say. */
  linkMailMinutes (pending: { expiresAt: Date }): number {
    return Math.max(1, Math.round(this.#linkTTL(pending) / 60))
  }

  /** Seconds: the setting, but never past the pending link itself. */
  #linkTTL (pending: { expiresAt: Date }): number {
    return Math.min(this.#o.policy.verifyLinkTTL, Math.floor((pending.expiresAt.getTime() - this.#now().getTime()) / 1000))
  }

  async verifyEmail (token: string, ip?: string): Promise<{ userId: string } | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null
    const done = await this.#o.tokens.verifyEmail(hashSecret(token), this.#now())
    if (done) await this.#o.audit.record({ type: 'email_verified', actor: done.userId, subject: done.userId, ip })
    return done
  }

  /** Creates an invitation and mails it; the link is also returned (the admin may pass it on). */
  async invite (email: string, scopes: string[], ctx: RequestContext & { actor: string }): Promise<{ id: string, url: string, expiresAt: Date }> {
    const ttl = this.#o.policy.inviteTTL
    const { secret, record } = await this.#issue('invite', email, ttl, { scopes, createdBy: ctx.actor })
    const url = `${ctx.issuer}${ACCOUNT_PAGES.signup}?invite=${secret}`
    this.#o.outbox.queue('invite', ctx.locale, record.email, { link: url, validFor: Math.round(ttl / 86_400) })
    await this.#o.audit.record({ type: 'invite_created', actor: ctx.actor, ip: ctx.ip, detail: { invite_id: record.id, scopes, expires_at: record.expiresAt.toISOString() } })
    return { id: record.id, url, expiresAt: record.expiresAt }
  }

  /** Redeems an invitation: the user is created with the invited address (verified) and scopes. */
  async redeemInvite (token: string, username: string, passwordHash: string, ip?: string) {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return 'invalid' as const
    const result = await this.#o.tokens.redeemInvite(hashSecret(token), { username, passwordHash, verificationPending: false, emailVerified: true }, this.#now())
    if (typeof result === 'object') {
      await this.#o.audit.record({ type: 'user_signed_up', actor: result.user.id, subject: result.user.id, ip, detail: { via: 'invite', invite_id: result.invite.id, scopes: result.user.scopes } })
    }
    return result
  }

  /**
   * Open sign-up. A new account waits for its address to be verified (sign-in is refused until
   * then); an address that already has an account gets a "you already have an account" mail,
   * and the caller answers exactly as for a new one. `username_taken` is the one answer that
   * differs: usernames are public identifiers, chosen by the user.
   */
  async signUp (username: string, email: string, passwordHash: string, ctx: RequestContext): Promise<'ok' | 'username_taken'> {
    const existing = (await this.#o.users.findByEmail(email.trim())).filter((u) => !u.verificationPending)
    if (existing.length) {
      await this.#o.audit.record({ type: 'signup_refused', ip: ctx.ip, subject: existing[0].id, detail: { reason: 'email_in_use' } })
      if (await this.#underCap('verify_email', email)) {
        // Counted like a verification mail, so sign-ups cannot flood an address either.
        await this.#issue('verify_email', email, 1, { userId: existing[0].id })
        this.#o.outbox.queue('signup_existing', ctx.locale, normalizeEmail(email), { link: `${ctx.issuer}${ACCOUNT_PAGES.forgot}`, validFor: 0, username: existing[0].username })
      }
      return 'ok'
    }
    const user = await this.#o.tokens.createUser({ username, email: email.trim(), passwordHash, scopes: [], verificationPending: true, emailVerified: false })
    if (!user) return 'username_taken'
    await this.#o.audit.record({ type: 'user_signed_up', actor: user.id, subject: user.id, ip: ctx.ip, detail: { via: 'open' } })
    await this.sendVerification(user, ctx)
    return 'ok'
  }

  listInvites () { return this.#o.tokens.listInvites(this.#now()) }

  async revokeInvite (id: string, actor: string, ip?: string): Promise<boolean> {
    const revoked = await this.#o.tokens.revokeInvite(id, this.#now())
    if (revoked) await this.#o.audit.record({ type: 'invite_revoked', actor, ip, detail: { invite_id: id } })
    return revoked
  }
}
