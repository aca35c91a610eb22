/**
 * The audit trail: security events written to the `audit_events` table and to the log.
 *
 * An event names what happened, who did it (`actor`: the acting admin's `sub`, a user id, a client
 * id or `cli`) and to what (`subject`). Its `detail` never carries a password, secret or token;
 * the logger's redact paths are a second line of defence, not the first.
 *
 * A failure to store an event is logged (at error, with the event's type) and counted
 * (`stamp_audit_write_failures_total`), and does not fail the request: refusing logins because
 * the audit table is unreachable would turn an audit outage into a full outage.
 *
 * @module
 */
import type { AuditEventInput, AuditStore } from '../storage/types.js'

export type AuditEventType =
  | 'login_succeeded'
  | 'login_failed'
  | 'login_throttled'
  | 'refresh_token_reuse'
  | 'refresh_family_revoked'
  | 'user_signed_out_everywhere'
  | 'session_ended'
  | 'key_rotated'
  | 'key_revoked'
  | 'client_created'
  | 'client_updated'
  | 'client_deleted'
  | 'client_secret_rotated'
  | 'user_created'
  | 'user_updated'
  | 'user_password_reset'
  /** A second presentation of an authorization code (RFC 6749 §4.1.2): what it issued is revoked. */
  | 'authorization_code_reuse'
  /** A user ended their session at the end-session endpoint. */
  | 'logout'
  | 'consent_granted'
  | 'consent_denied'
  | 'consent_revoked'
  /** /token, /revoke or /introspect refused a client's credentials. */
  | 'client_authentication_failed'
  /** The admin API refused a presented bearer token (invalid, expired, lacking stamp:admin, no longer an admin). */
  | 'admin_token_rejected'
  | 'retention_purged'
  | 'client_registered'
  | 'client_first_use'
  | 'client_revoked'
  | 'clients_purged'
  | 'registration_token_created'
  | 'registration_refused'
  /** Second factors (issue 15): every change and every recovery-code use. */
  | 'totp_enrolled'
  | 'totp_removed'
  | 'passkey_registered'
  | 'passkey_renamed'
  | 'passkey_removed'
  | 'recovery_codes_generated'
  | 'recovery_code_used'
  /** An administrator removed all of a user's factors. */
  | 'factors_reset'
  /** A second factor was refused at sign-in (wrong or reused code, unknown passkey). */
  | 'second_factor_failed'
  /** The user changed their own password (account page). */
  | 'password_changed'
  /** RFC 8628: a user approved or denied a device at /device. */
  | 'device_authorization_approved'
  | 'device_authorization_denied'
  /** A wrong user code at /device (counted per browser and IP); `device_flow_blocked` once over the threshold. */
  | 'device_user_code_failed'
  | 'device_flow_blocked'
  /** RFC 8693: a token exchange, and a refused one (target or client not allowed). */
  | 'token_exchanged'
  | 'token_exchange_refused'
  /** "Forgot password" or an admin's "send a reset email"; `detail.known`: whether the address has an account. */
  | 'password_reset_requested'
  /** A reset link was used: new password, every session and refresh family ended. */
  | 'password_reset'
  | 'email_verification_sent'
  | 'email_verified'
  | 'user_signed_up'
  /** A sign-up named an address that already has an account (that address was told by mail). */
  | 'signup_refused'
  | 'invite_created'
  | 'invite_revoked'
  /** Upstream identity providers (issue 16): administration. */
  | 'identity_provider_created'
  | 'identity_provider_updated'
  | 'identity_provider_deleted'
  /** A federated sign-in was refused (bad state or nonce, upstream error, no link and no JIT). */
  | 'federated_login_failed'
  /** A user created just in time from an upstream identity. */
  | 'federated_user_created'
  /** (provider, upstream sub) linked to a local user, after that user signed in locally. */
  | 'federated_identity_linked'
  | 'federated_identity_unlinked'
  /** An upstream email matched a local account without a link: linking waits for a local sign-in. */
  | 'federated_link_pending'
  /** "Send me a confirmation mail instead" on the link page: `sent` says whether a mail went out. */
  | 'federated_link_mail_requested'
  /** A user without a usable password (created just in time) set one on the account page. */
  | 'password_set'

/** Events logged at warn: each one may mean an attack or an emergency. */
const WARN: ReadonlySet<AuditEventType> = new Set(['refresh_token_reuse', 'key_revoked', 'login_throttled', 'authorization_code_reuse', 'factors_reset', 'recovery_code_used', 'device_flow_blocked'])

export interface AuditEvent extends AuditEventInput { type: AuditEventType }

export interface AuditLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export class AuditLog {
  readonly #store: AuditStore
  readonly #log: AuditLogger
  readonly #listeners: Array<(event: AuditEvent) => void> = []
  readonly #failureListeners: Array<(event: AuditEvent, err: unknown) => void> = []

  constructor (store: AuditStore, log: AuditLogger) {
    this.#store = store
    this.#log = log
  }

  /** Called for every event (metrics count them); a throwing listener is ignored. */
  onEvent (listener: (event: AuditEvent) => void): void {
    this.#listeners.push(listener)
  }

  /** Called when an event could not be stored (metrics count them); a throwing listener is ignored. */
  onWriteFailure (listener: (event: AuditEvent, err: unknown) => void): void {
    this.#failureListeners.push(listener)
  }

  async record (event: AuditEvent): Promise<void> {
    this.announce(event)
    try {
      await this.#store.append(event)
    } catch (err) {
      this.#log.error({ err, audit: { type: event.type } }, 'could not store audit event')
      for (const listener of this.#failureListeners) {
        try { listener(event, err) } catch {}
      }
    }
  }

  /**
   * Logs and counts an event that was stored by the transaction of the action it records (a
   * completed sign-in, storage/prisma/sign_ins.ts): there the event commits with the action or
   * not at all, instead of being written on its own.
   */
  announce (event: AuditEvent): void {
    const line = { audit: { type: event.type, actor: event.actor ?? undefined, subject: event.subject ?? undefined, client_id: event.clientId ?? undefined, ip: event.ip ?? undefined, ...event.detail } }
    if (WARN.has(event.type)) this.#log.warn(line, `audit: ${event.type}`)
    else this.#log.info(line, `audit: ${event.type}`)
    for (const listener of this.#listeners) {
      try { listener(event) } catch {}
    }
  }
}
