/**
 * The password sign-in the hosted pages share (the login page of the authorization endpoint and
 * the device verification page): back-off before any password check, the same argon2 work for
 * unknown users, the audit trail, and on success a new session cookie and a new browser-binding
 * secret (a binding known before the sign-in must not carry over into the next step).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditEvent } from '../../domain/audit.js'
import type { SessionRecord, UserRecord } from '../../storage/types.js'
import { SESSION_COOKIE, cookie, cookieJarFor } from './browser.js'

export type PasswordCheck =
  /** `event`: the success to audit, already recorded unless the check was asked to leave it (`recordSuccess: false`). */
  | { ok: true, user: UserRecord, event: AuditEvent }
  | { ok: false, reason: 'throttled', retryAfter: number }
  | { ok: false, reason: 'invalid' }
  /** Right password, but a self-registered address not yet confirmed (SIGNUP=open). */
  | { ok: false, reason: 'unverified', user: UserRecord }

/**
 * `via` names the form in the audit trail (`login_form`, `device_form`). `recordSuccess: false`
 * leaves the success event to the caller, to write it with what follows (./sign_in.ts afterFactor).
 */
export async function checkPassword (
  app: FastifyInstance, request: FastifyRequest, credentials: { username: string, password: string, clientId: string, via: string, recordSuccess?: boolean },
): Promise<PasswordCheck> {
  const { username, password, clientId, via } = credentials
  const ip = request.ip
  // Back-off before any password check; unknown usernames are throttled like known ones.
  const decision = await app.loginThrottle.check(username, ip)
  if (!decision.allowed) {
    await app.audit.record({ type: 'login_throttled', clientId, ip, detail: { retry_after: decision.retryAfter, via } })
    return { ok: false, reason: 'throttled', retryAfter: decision.retryAfter }
  }
  const user = await app.usersRepository.findByUsername(username)
  // Always run argon2, also for unknown users, so timing does not reveal which usernames exist.
  const ok = await app.passwordHasher.verify(user?.passwordHash ?? null, password)
  if (!user || !ok || user.disabled) {
    await app.loginThrottle.failed(username, ip)
    // As in the password grant: the subject is the user id, never the typed username.
    await app.audit.record({
      type: 'login_failed', subject: user?.id ?? null, clientId, ip,
      detail: { reason: !user ? 'unknown_user' : user.disabled && ok ? 'disabled' : 'bad_password', via },
    })
    return { ok: false, reason: 'invalid' }
  }
  if (user.verificationPending) {
    await app.audit.record({ type: 'login_failed', subject: user.id, clientId, ip, detail: { reason: 'email_unverified', via } })
    return { ok: false, reason: 'unverified', user }
  }
  await app.loginThrottle.succeeded(username, ip)
  const event: AuditEvent = { type: 'login_succeeded', actor: user.id, subject: user.id, clientId, ip, detail: { via } }
  if (credentials.recordSuccess !== false) await app.audit.record(event)
  if (app.passwordHasher.needsRehash(user.passwordHash)) {
    await app.usersRepository.updatePasswordHash(user.id, await app.passwordHasher.hash(password))
  }
  return { ok: true, user, event }
}

/**
 * Signs `user` in with `amr` (RFC 8176 values; a new session cookie) and rotates the
 * browser-binding secret, moving this browser's parked requests over to it; returns the session
 * and the new binding secret.
 */
export async function startSession (
  app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, user: UserRecord, browser: string, amr: string[] = ['pwd'],
): Promise<{ session: SessionRecord, browser: string }> {
  const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
  const { session, secret } = await app.sso.signIn(user, current, amr)
  const jar = cookieJarFor(request)
  jar.set(reply, SESSION_COOKIE, secret)
  const rotated = jar.rotateBrowserSecret(reply)
  await app.sso.rebindBrowser(browser, rotated)
  return { session, browser: rotated }
}
