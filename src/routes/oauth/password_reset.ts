/**
 * Password recovery by mail (OWASP Forgot Password Cheat Sheet):
 *
 * - `GET/POST /password/forgot`: the user names an address; the answer is the same page whether
 *   or not it belongs to an account, and the mail (if any) goes out in the background.
 * - `GET /password/reset?token=…` shows the form without using the link (mail scanners open
 *   links); `POST` sets the new password (password policy) and consumes the link atomically.
 *   Then every session and refresh-token family of the user ends, as an admin reset does, and
 *   this browser's session cookie is cleared.
 *
 * Both POSTs are rate limited per IP (`RATE_LIMIT_ACCOUNT_MAX`); mails per address are capped in
 * domain/accounts.ts. The token sits in the query string, which the request log redacts.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ACCOUNT_PAGES, emailProblem } from '../../domain/accounts.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { t } from '../../i18n/messages.js'
import { signOutEverywhere } from '../admin/sessions.js'
import { SESSION_COOKIE, browserErrorPages, carriedLocale, cookie, cookieJarFor, pageContext, sendErrorPage, sendPage } from './browser.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { backToSignIn, checkCSRF, formCSRF, parkedRequestId, passwordProblem } from './account_forms.js'
import { forgotPage, noticePage, resetPage } from './account_views.js'

export default async function passwordResetRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const minutes = Math.round(app.config.policy.accounts.resetLinkTTL / 60)

  function renderForgot (request: FastifyRequest, reply: FastifyReply, status: number, email?: string, error?: string) {
    const ctx = pageContext(request)
    return sendPage(reply, status, forgotPage(ctx, {
      action: publicIssuer(request) + ACCOUNT_PAGES.forgot,
      csrf: formCSRF(request, reply, 'forgot', ''),
      uiLocales: carriedLocale(request),
      hidden: { request: parkedRequestId(request) },
      email,
      error,
      links: backToSignIn(request, ctx.locale),
    }))
  }

  app.get(ACCOUNT_PAGES.forgot, async (request, reply) => renderForgot(request, reply, 200))

  app.post(ACCOUNT_PAGES.forgot, { config: { rateLimit: app.rateLimits.account } }, async (request, reply) => {
    const long = overLongPage(reply, request.body, 'account.cannot')
    if (long) return long
    if (!checkCSRF(request, 'forgot', '')) return sendErrorPage(reply, 403, 'error.formExpired.title', 'account.formExpired')
    const ctx = pageContext(request)
    const email = field(request.body, 'email')?.trim() ?? ''
    if (emailProblem(email)) return renderForgot(request, reply, 400, email, t(ctx.locale, 'forgot.error.email'))
    await app.accounts.requestReset(email, { issuer: publicIssuer(request), locale: ctx.locale, ip: request.ip })
    return sendPage(reply, 200, noticePage(ctx, {
      title: t(ctx.locale, 'forgot.sent.title'),
      message: t(ctx.locale, 'forgot.sent.message', { email, minutes }),
      links: backToSignIn(request, ctx.locale),
    }))
  })

  async function load (token: string | undefined) {
    const link = await app.accounts.liveLink(token, 'reset_password')
    const user = link?.userId ? await app.usersRepository.findById(link.userId) : null
    return link && user && !user.disabled ? { link, user, token: token! } : null
  }

  function invalidLink (reply: FastifyReply) {
    return sendErrorPage(reply, 400, 'reset.invalid.title', 'reset.invalid.message')
  }

  async function renderReset (request: FastifyRequest, reply: FastifyReply, status: number, loaded: NonNullable<Awaited<ReturnType<typeof load>>>, error?: string) {
    // The minimum that applies to this user: shorter with a second factor (NIST SP 800-63B-4).
    const minLength = app.passwordPolicy.minLength(await app.secondFactors.hasSecondFactor(loaded.user.id))
    return sendPage(reply, status, resetPage(pageContext(request), {
      action: publicIssuer(request) + ACCOUNT_PAGES.reset,
      csrf: formCSRF(request, reply, 'reset', loaded.link.id),
      uiLocales: carriedLocale(request),
      hidden: { token: loaded.token },
      username: loaded.user.username,
      minLength,
      error,
    }))
  }

  app.get(ACCOUNT_PAGES.reset, async (request, reply) => {
    const loaded = await load(queryOf(request).token?.[0])
    return loaded ? renderReset(request, reply, 200, loaded) : invalidLink(reply)
  })

  app.post(ACCOUNT_PAGES.reset, { config: { rateLimit: app.rateLimits.account } }, async (request, reply) => {
    const long = overLongPage(reply, request.body, 'account.cannot')
    if (long) return long
    const loaded = await load(field(request.body, 'token'))
    if (!loaded) return invalidLink(reply)
    if (!checkCSRF(request, 'reset', loaded.link.id)) return sendErrorPage(reply, 403, 'error.formExpired.title', 'account.formExpired')
    const locale = pageContext(request).locale
    const password = field(request.body, 'password') ?? ''
    if (password !== (field(request.body, 'confirm') ?? '')) return renderReset(request, reply, 400, loaded, t(locale, 'reset.error.mismatch'))
    const violation = app.passwordPolicy.violation(password, { username: loaded.user.username, hasSecondFactor: await app.secondFactors.hasSecondFactor(loaded.user.id) })
    if (violation) return renderReset(request, reply, 400, loaded, passwordProblem(locale, violation))
    const done = await app.accounts.resetPassword(loaded.token, await app.passwordHasher.hash(password))
    if (!done) return invalidLink(reply)
    // As an admin reset (routes/admin/users.ts): whoever knew the old password is out everywhere.
    const signedOut = await signOutEverywhere(request, done.userId)
    await app.audit.record({
      type: 'password_reset', actor: done.userId, subject: done.userId, ip: request.ip,
      detail: { via: 'email_link', refresh_families_revoked: signedOut.revoked_families, sessions_ended: signedOut.ended_sessions },
    })
    if (cookie(request, SESSION_COOKIE)) cookieJarFor(request).clear(reply, SESSION_COOKIE)
    return sendPage(reply, 200, noticePage(pageContext(request), { title: t(locale, 'reset.done.title'), message: t(locale, 'reset.done.message') }))
  })
}
