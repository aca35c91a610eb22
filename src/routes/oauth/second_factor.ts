/**
 * The second sign-in step, for a parked request whose user passed the first factor
 * (`factorUserId`): a one-time code from an authenticator app (RFC 6238), a recovery code, or a
 * passkey (./passkey_login.ts); and, when MFA is required and the user has no factor yet, the
 * enrolment of a passkey (./passkey_enrolment.ts, offered first) or an authenticator app, after
 * which the recovery codes are shown once.
 *
 * Every form carries a CSRF token bound to the browser and the request. Wrong codes count as
 * failed logins for the account's back-off (domain/login_throttle.ts), like wrong passwords, and
 * are audited; so is every recovery-code use.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import { combineMethods } from '../../domain/authentication_methods.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { PASSKEY_SCRIPTS } from '../static.js'
import { BROWSER_COOKIE, SESSION_COOKIE, browserErrorPages, cookie, expiredRequestPage, pageContext, sendPage } from './browser.js'
import { t } from '../../i18n/messages.js'
import type { FactorPresence } from '../../storage/types.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { enrolPage } from './factor_views.js'
import { sendFactorPage, type FactorPageError } from './factor_page.js'
import { completeSignIn, continueParked } from './sign_in.js'
import { csrfRejected, factorForm, finishEnrolment, isPending, mayEnrol, pendingFactor, type PendingFactor } from './factor_step.js'

export default async function secondFactorRoutes (app: FastifyInstance) {
  browserErrorPages(app)

  async function renderFactor (reply: FastifyReply, status: number, pending: PendingFactor, error?: FactorPageError, presence?: FactorPresence) {
    return sendFactorPage(reply, status, pending, presence ?? await app.secondFactors.presence(pending.user.id), { error })
  }

  app.get(ENDPOINTS.loginFactor, async (request, reply) => {
    const query = queryOf(request)
    // What to offer is read with the request and the user: one statement, no write.
    const pending = await pendingFactor(app, request, query.request?.[0], 'presence')
    if (!pending) return expiredRequestPage(reply)
    return renderFactor(reply, 200, pending, query.error?.[0] === 'passkey' ? 'passkey.failed' : undefined, pending.presence ?? undefined)
  })

  app.post(ENDPOINTS.loginFactor, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const method = field(request.body, 'method')
    // The TOTP record is read with the request and the user (the code is checked against it below).
    const pending = await factorForm(app, request, reply, 'factor', method === 'totp' ? 'totp' : undefined)
    if (!isPending(pending)) return pending
    const { parked, browser, user } = pending
    const code = field(request.body, 'code')?.trim() ?? ''
    const clientId = parked.client.id
    const ip = request.ip
    const decision = await app.loginThrottle.check(user.username, ip)
    if (!decision.allowed) {
      await app.audit.record({ type: 'login_throttled', subject: user.id, clientId, ip, detail: { retry_after: decision.retryAfter, via: 'second_factor' } })
      reply.header('retry-after', String(decision.retryAfter))
      return renderFactor(reply, 429, pending, { throttled: decision.retryAfter })
    }
    const refused = async () => {
      await app.loginThrottle.failed(user.username, ip)
      await app.audit.record({ type: 'second_factor_failed', actor: user.id, subject: user.id, clientId, ip, detail: { method: method === 'recovery' ? 'recovery' : 'totp' } })
      return renderFactor(reply, 401, pending, method === 'recovery' ? 'factor.wrongRecovery' : 'factor.wrongCode')
    }
    const use = method === 'totp' || method === 'recovery' ? app.secondFactors.factorUse(user.id, method, code, pending.totp) : null
    if (!use) return refused()
    // The code is consumed in the sign-in's own transaction (./sign_in.ts completeSignIn): a step
    // used meanwhile (a replay, also from another instance) refuses it with nothing written.
    // A recovery code is a one-time password too (RFC 8176 `otp`).
    const done = await completeSignIn(app, request, reply, parked, browser, user, combineMethods(parked.factorAmr, ['otp']), {
      factor: use,
      events: ({ recoveryCodesLeft }) => [
        ...(method === 'recovery' ? [{ type: 'recovery_code_used' as const, actor: user.id, subject: user.id, clientId, ip, detail: { remaining: recoveryCodesLeft } }] : []),
        { type: 'login_succeeded', actor: user.id, subject: user.id, clientId, ip, detail: { via: 'second_factor', method } },
      ],
    })
    if (done === 'factor_refused') return refused()
    await app.loginThrottle.succeeded(user.username, ip)
    return done
  })

  /** The enrolment page: a passkey (recommended, first) or an authenticator app. */
  async function renderEnrol (reply: FastifyReply, status: number, pending: PendingFactor, error?: 'factor.wrongCode' | 'account.passkeyFailed') {
    const { parked, browser, user } = pending
    // A user with a factor (also one enrolled meanwhile in another tab) presents it instead.
    if (!await mayEnrol(app, pending)) return renderFactor(reply, status, pending)
    const enrolment = await app.secondFactors.beginTOTP(user)
    if (!enrolment) return renderFactor(reply, status, pending)
    const ctx = pageContext(reply.request)
    const issuer = publicIssuer(reply.request)
    const page = enrolPage(ctx, {
      action: issuer + ENDPOINTS.loginEnrol, requestId: parked.id, csrf: csrfToken(browser, 'factor', parked.id),
      qrSVG: enrolment.qrSVG, secret: enrolment.secret,
      error: error === 'factor.wrongCode' ? t(ctx.locale, error) : undefined,
      passkey: { optionsAction: issuer + ENDPOINTS.loginEnrolPasskeyOptions, action: issuer + ENDPOINTS.loginEnrolPasskey, scripts: PASSKEY_SCRIPTS },
      passkeyError: error === 'account.passkeyFailed' ? t(ctx.locale, error) : undefined,
    })
    return sendPage(reply, status, page, [parked.redirectUri])
  }

  app.get(ENDPOINTS.loginEnrol, async (request, reply) => {
    const query = queryOf(request)
    const pending = await pendingFactor(app, request, query.request?.[0])
    if (!pending) return expiredRequestPage(reply)
    return renderEnrol(reply, 200, pending, query.error?.[0] === 'passkey' ? 'account.passkeyFailed' : undefined)
  })

  app.post(ENDPOINTS.loginEnrol, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const pending = await factorForm(app, request, reply)
    if (!isPending(pending)) return pending
    if (!await mayEnrol(app, pending)) return renderFactor(reply, 409, pending)
    const { parked, user } = pending
    if (!await app.secondFactors.confirmTOTP(user.id, field(request.body, 'code')?.trim() ?? '')) {
      return renderEnrol(reply, 400, pending, 'factor.wrongCode')
    }
    await app.audit.record({ type: 'totp_enrolled', actor: user.id, subject: user.id, clientId: parked.client.id, ip: request.ip, detail: { via: 'sign_in' } })
    return finishEnrolment(app, request, reply, pending, combineMethods(parked.factorAmr, ['otp']))
  })

  // After the recovery codes were shown: on to consent or back to the application.
  app.post(ENDPOINTS.loginContinue, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'consent.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(field(form, 'request'), browser)
    if (!parked || !browser || !parked.sessionId) return expiredRequestPage(reply)
    if (!verifyCSRF(browser, 'factor', parked.id, field(form, 'csrf'))) return csrfRejected(request, reply)
    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    if (!current || current.session.id !== parked.sessionId) return expiredRequestPage(reply)
    return continueParked(app, request, reply, parked, current.session, current.user)
  })
}
