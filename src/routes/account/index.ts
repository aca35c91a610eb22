/**
 * The self-service account page, `/account`, for the user of the browser's SSO session: change
 * the password (the current one required; a user created just in time, who has none, sets one
 * instead, after a recent authentication as for every sensitive change), manage passkeys and the authenticator app, create new
 * recovery codes, and see and end their sessions and apps (SSO sessions, refresh-token families
 * by client, remembered consents).
 *
 * Without a session the browser goes through the hosted sign-in (as the built-in `stamp:account`
 * pseudo-client, domain/sso.ts) and comes back. Every change is a POST with a CSRF token bound to
 * the session cookie (HMAC of its secret: another site can neither read nor compute it), answered
 * with a redirect back to the page (POST/redirect/GET). Sensitive changes need a recent
 * authentication (`policy.mfa.recentAuthentication`, 5 minutes): older than that, the user signs in
 * again first (`prompt=login`). Each change is an audit event.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import { hasUsablePassword } from '../../domain/passwords.js'
import { withdrawConsent } from '../../domain/consent.js'
import { PasskeyError, relyingPartyFor } from '../../domain/second_factors.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { SessionRecord, UserRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { PASSKEY_SCRIPTS } from '../static.js'
import { SESSION_COOKIE, browserErrorPages, cookie, cookieJarFor, formExpiredPage, pageContext, redirect, sendPage } from '../oauth/browser.js'
import { t, type MessageKey } from '../../i18n/messages.js'
import { queryOf } from '../oauth/authorize.js'
import { field, overLongPage } from '../oauth/login.js'
import { recoveryCodesPage, totpEnrolment } from '../oauth/factor_views.js'
import { signedOutPage } from '../oauth/views.js'
import { accountPage, accountTOTPPage, DONE_MESSAGES } from './views.js'

interface Signed { session: SessionRecord, user: UserRecord, secret: string }

export default async function accountRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const base = ENDPOINTS.account
  const { recentAuthentication } = app.config.policy.mfa

  async function signedIn (request: FastifyRequest): Promise<Signed | null> {
    const secret = cookie(request, SESSION_COOKIE)
    const current = await app.sso.currentSession(secret)
    return current ? { ...current, secret: secret! } : null
  }

  /** Through the hosted sign-in and back here; `fresh` forces a new authentication. */
  async function signInFirst (request: FastifyRequest, reply: FastifyReply, fresh?: UserRecord) {
    const issuer = publicIssuer(request)
    const jar = cookieJarFor(request)
    const id = await app.sso.parkAccountSignIn(jar.browserSecret(request, reply), issuer + base, fresh ? { prompt: ['login'], loginHint: fresh.username } : {})
    return redirect(reply, `${issuer}${ENDPOINTS.login}?request=${id}`)
  }

  const csrfFor = (s: Signed) => csrfToken(s.secret, 'account', s.session.id)
  const recent = (s: Signed) => Date.now() - s.session.authTime.getTime() <= recentAuthentication * 1000
  const back = (request: FastifyRequest, reply: FastifyReply, done?: string) =>
    redirect(reply, `${publicIssuer(request)}${base}${done ? `?done=${done}` : ''}`)
  const audit = (request: FastifyRequest, s: Signed, type: Parameters<typeof app.audit.record>[0]['type'], detail?: Record<string, unknown>) =>
    app.audit.record({ type, actor: s.user.id, subject: s.user.id, ip: request.ip, detail: { via: 'account', ...detail } })

  /**
   * The common front of every change: the form's size, a signed-in user, the CSRF token, and for
   * `sensitive` changes a recent authentication. Answers the request itself when one fails.
   */
  async function guard (request: FastifyRequest, reply: FastifyReply, sensitive: boolean): Promise<Signed | FastifyReply> {
    const long = overLongPage(reply, request.body, 'account.pageCannot')
    if (long) return long
    const s = await signedIn(request)
    if (!s) return signInFirst(request, reply)
    if (!verifyCSRF(s.secret, 'account', s.session.id, field(request.body, 'csrf'))) return formExpiredPage(request, reply, 'account', 'account.pageFormExpired')
    if (sensitive && !recent(s)) return signInFirst(request, reply, s.user)
    return s
  }
  const isReply = (x: Signed | FastifyReply): x is FastifyReply => !('session' in x && 'user' in x && 'secret' in x)

  async function render (request: FastifyRequest, reply: FastifyReply, s: Signed, status = 200, error?: MessageKey | { text: string }) {
    const now = new Date()
    const [summary, sessions, families, consents, links] = await Promise.all([
      app.secondFactors.summary(s.user.id),
      app.sessions.listActiveForUser(s.user.id, { limit: 50 }, now),
      app.refreshTokens.listFamilies({ userId: s.user.id }, { limit: 50 }, now),
      app.consents.listForUser(s.user.id, 50),
      app.federation.linksFor(s.user.id),
    ])
    const providersAvailable = (await app.identityProviders.enabled()).length > 0
    const names = new Map<string, string>()
    const nameOf = async (id: string) => {
      if (!names.has(id)) names.set(id, (await app.clientCache.find(id).catch(() => null))?.name ?? id)
      return names.get(id)!
    }
    const ctx = pageContext(request)
    const done = queryOf(request).done?.[0]
    const page = accountPage(ctx, {
      base: publicIssuer(request) + base,
      csrf: csrfFor(s),
      username: s.user.username,
      message: done && DONE_MESSAGES.includes(done) ? t(ctx.locale, `account.done.${done}` as MessageKey) : undefined,
      error: error === undefined ? undefined : typeof error === 'string' ? t(ctx.locale, error) : error.text,
      passwordMinLength: app.passwordPolicy.minLength(summary.totp || summary.passkeys.length > 0),
      hasPassword: hasUsablePassword(s.user.passwordHash),
      factorsEnabled: app.config.policy.mfa.mode !== 'off' || (s.user.mfaRequired ?? false),
      passkeys: summary.passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt, synced: p.backupEligible })),
      totp: summary.totp,
      recoveryCodesLeft: summary.recoveryCodesLeft,
      sessions: await Promise.all(sessions.map(async (x) => ({ id: x.id, authTime: x.authTime, current: x.id === s.session.id, apps: await Promise.all(x.clientIds.map(nameOf)) }))),
      families: await Promise.all(families.filter((f) => f.active).map(async (f) => ({ familyId: f.familyId, clientName: await nameOf(f.clientId), scope: f.scope, lastUsedAt: f.lastUsedAt }))),
      consents: await Promise.all(consents.map(async (c) => ({ clientId: c.clientId, clientName: await nameOf(c.clientId), scopes: c.scopes }))),
      scripts: PASSKEY_SCRIPTS,
      links: links.map((l) => ({ id: l.id, provider: l.provider?.displayName ?? l.providerId, email: l.email, createdAt: l.createdAt, lastUsedAt: l.lastUsedAt })),
      providersAvailable,
    })
    return sendPage(reply, status, page)
  }

  app.get(base, async (request, reply) => {
    const s = await signedIn(request)
    if (!s) return signInFirst(request, reply)
    return render(request, reply, s)
  })

  // --- password -------------------------------------------------------------------------------
  app.post(`${base}/password`, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    const current = field(request.body, 'current_password') ?? ''
    const next = field(request.body, 'new_password') ?? ''
    // No password yet (created just in time): the recent sign-in `guard` demanded is the proof.
    const setting = !hasUsablePassword(s.user.passwordHash)
    // The current password proves it is the user at the keyboard, not someone at an unlocked screen.
    if (!setting && !await app.passwordHasher.verify(s.user.passwordHash, current)) {
      await app.loginThrottle.failed(s.user.username, request.ip)
      await audit(request, s, 'login_failed', { reason: 'bad_password' })
      return render(request, reply, s, 400, 'account.wrongPassword')
    }
    const violation = app.passwordPolicy.violation(next, { username: s.user.username, hasSecondFactor: await app.secondFactors.hasSecondFactor(s.user.id) })
    if (violation) return render(request, reply, s, 400, { text: violation[0].toUpperCase() + violation.slice(1) + '.' })
    await app.usersRepository.updatePasswordHash(s.user.id, await app.passwordHasher.hash(next))
    if (setting) {
      await audit(request, s, 'password_set')
      return back(request, reply, 'password_set')
    }
    // Whoever knew the old password may be signed in elsewhere: those sessions end (not this one).
    let ended = 0
    for (const other of await app.sessions.listActiveForUser(s.user.id, { limit: 1000 }, new Date())) {
      if (other.id !== s.session.id && await app.sso.logout(other.id)) ended++
    }
    await audit(request, s, 'password_changed', { sessions_ended: ended })
    return back(request, reply, 'password')
  })

  // --- passkeys -------------------------------------------------------------------------------
  app.post(`${base}/passkeys/options`, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const s = await signedIn(request)
    if (!s || !verifyCSRF(s.secret, 'account', s.session.id, field(request.body, 'csrf'))) {
      return reply.code(403).send({ error: 'invalid_request', error_description: 'not signed in, or an invalid CSRF token' })
    }
    // The script gets JSON, not a redirect: a stale sign-in is answered 401, the page then reloads into the sign-in.
    if (!recent(s)) return reply.code(401).send({ error: 'login_required', error_description: 'sign in again to add a passkey' })
    return app.secondFactors.registrationOptions(s.user, s.secret, relyingPartyFor(publicIssuer(request)))
  })

  app.post(base + '/passkeys', async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    let response: RegistrationResponseJSON
    try {
      response = JSON.parse(field(request.body, 'credential') ?? '')
      const passkey = await app.secondFactors.register(s.user, s.secret, relyingPartyFor(publicIssuer(request)), field(request.body, 'challenge') ?? '', response, field(request.body, 'name') ?? '')
      await audit(request, s, 'passkey_registered', { credential_id: passkey.id, backup_eligible: passkey.backupEligible, transports: passkey.transports })
    } catch (err) {
      if (!(err instanceof PasskeyError) && !(err instanceof SyntaxError)) throw err
      request.log.info({ event: 'passkey_registration_refused', reason: err.message }, 'passkey registration refused')
      return render(request, reply, s, 400, 'account.passkeyFailed')
    }
    return back(request, reply, 'passkey_added')
  })

  app.post(`${base}/passkeys/rename`, async (request, reply) => {
    const s = await guard(request, reply, false)
    if (isReply(s)) return s
    const id = field(request.body, 'id') ?? ''
    if (await app.secondFactors.renamePasskey(s.user.id, id, field(request.body, 'name') ?? '')) await audit(request, s, 'passkey_renamed', { credential_id: id })
    return back(request, reply, 'passkey_renamed')
  })

  app.post(`${base}/passkeys/remove`, async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    const id = field(request.body, 'id') ?? ''
    if (await app.secondFactors.removePasskey(s.user.id, id)) await audit(request, s, 'passkey_removed', { credential_id: id })
    return back(request, reply, 'passkey_removed')
  })

  // --- authenticator app (TOTP) ---------------------------------------------------------------
  async function renderTOTP (request: FastifyRequest, reply: FastifyReply, s: Signed, status = 200, error?: 'factor.wrongCode') {
    const enrolment = await app.secondFactors.beginTOTP(s.user)
    if (!enrolment) return back(request, reply)
    const ctx = pageContext(request)
    const body = totpEnrolment(ctx.locale, { qrSVG: enrolment.qrSVG, secret: enrolment.secret, action: publicIssuer(request) + base + '/totp', hidden: { csrf: csrfFor(s) }, error: error && t(ctx.locale, error), submit: t(ctx.locale, 'factor.enrol') })
    return sendPage(reply, status, accountTOTPPage(ctx, body))
  }

  app.get(`${base}/totp`, async (request, reply) => {
    const s = await signedIn(request)
    if (!s) return signInFirst(request, reply)
    if (!recent(s)) return signInFirst(request, reply, s.user)
    return renderTOTP(request, reply, s)
  })

  app.post(`${base}/totp`, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    if (!await app.secondFactors.confirmTOTP(s.user.id, field(request.body, 'code')?.trim() ?? '')) {
      return renderTOTP(request, reply, s, 400, 'factor.wrongCode')
    }
    await audit(request, s, 'totp_enrolled')
    // The first factor of a kind comes with recovery codes; later ones keep the codes the user has.
    if ((await app.secondFactors.summary(s.user.id)).recoveryCodesLeft > 0) return back(request, reply)
    return showRecoveryCodes(request, reply, s)
  })

  app.post(`${base}/totp/remove`, async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    if (await app.secondFactors.removeTOTP(s.user.id)) await audit(request, s, 'totp_removed')
    return back(request, reply, 'totp_removed')
  })

  // --- recovery codes -------------------------------------------------------------------------
  async function showRecoveryCodes (request: FastifyRequest, reply: FastifyReply, s: Signed) {
    const codes = await app.secondFactors.regenerateRecoveryCodes(s.user.id)
    await audit(request, s, 'recovery_codes_generated', { count: codes.length })
    // "Continue" is a plain GET back to the page: nothing to protect.
    return sendPage(reply, 200, recoveryCodesPage(pageContext(request), { codes, action: publicIssuer(request) + base, hidden: {}, method: 'get' }))
  }

  app.post(`${base}/recovery-codes`, async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    return showRecoveryCodes(request, reply, s)
  })

  // --- sessions and apps ----------------------------------------------------------------------
  app.post(`${base}/sessions/end`, async (request, reply) => {
    const s = await guard(request, reply, false)
    if (isReply(s)) return s
    const sid = field(request.body, 'sid') ?? ''
    const target = await app.sso.findSession(sid)
    if (!target || target.userId !== s.user.id) return back(request, reply)
    await app.sso.logout(sid)
    await app.audit.record({ type: 'session_ended', actor: s.user.id, subject: sid, ip: request.ip, detail: { via: 'account', user_id: s.user.id } })
    if (sid === s.session.id) {
      cookieJarFor(request).clear(reply, SESSION_COOKIE)
      return sendPage(reply, 200, signedOutPage(pageContext(request)))
    }
    return back(request, reply, 'session_ended')
  })

  app.post(`${base}/families/revoke`, async (request, reply) => {
    const s = await guard(request, reply, false)
    if (isReply(s)) return s
    const familyId = field(request.body, 'family') ?? ''
    const family = await app.refreshTokens.findFamily(familyId, new Date())
    if (!family || family.userId !== s.user.id) return back(request, reply)
    const revoked = await app.refreshTokens.revokeFamily(familyId, new Date())
    await app.audit.record({ type: 'refresh_family_revoked', actor: s.user.id, subject: familyId, clientId: family.clientId, ip: request.ip, detail: { via: 'account', tokens_revoked: revoked } })
    return back(request, reply, 'family_revoked')
  })

  // --- linked identity providers (federation) ---------------------------------------------------
  // Sensitive: a recent authentication, as for passkeys. Removing the last way in is the user's
  // choice; "Forgot password?" still works for an account with an email.
  app.post(`${base}/links/remove`, async (request, reply) => {
    const s = await guard(request, reply, true)
    if (isReply(s)) return s
    await app.federation.unlink(s.user.id, field(request.body, 'link') ?? '', { ip: request.ip })
    return back(request, reply, 'unlinked')
  })

  app.post(`${base}/consents/withdraw`, async (request, reply) => {
    const s = await guard(request, reply, false)
    if (isReply(s)) return s
    const clientId = field(request.body, 'client') ?? ''
    const result = await withdrawConsent(app, s.user.id, clientId)
    await app.audit.record({ type: 'consent_revoked', actor: s.user.id, subject: s.user.id, clientId, ip: request.ip, detail: { via: 'account', refresh_families_revoked: result.refreshFamiliesRevoked } })
    return back(request, reply, 'consent_withdrawn')
  })
}
