/**
 * The hosted sign-in page: GET renders the form for a parked authorization request, POST checks
 * the credentials and continues to consent or straight back to the application.
 *
 * The form carries only the parked request's id and a CSRF token derived from the browser-binding
 * cookie, so a form posted from another site, or replayed in another browser, is refused. A wrong
 * password and an unknown user get the same message and the same argon2 work.
 *
 * Guessing is slowed down twice, as for the password grant: a per-IP request limit on POST
 * (`app.rateLimits.login`, plugins/rate_limit.ts) and the per-account back-off
 * (domain/login_throttle.ts), checked before the password is. A throttled attempt gets the form
 * again with a generic message, 429 and `Retry-After`, whether or not the username exists.
 * Successes, failures and throttled attempts go to the audit trail.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FormBody } from '../../plugins/form_body.js'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import type { ParkedRequest } from '../../domain/sso.js'
import type { Locale } from '../../i18n/messages.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import {
  BROWSER_COOKIE, SESSION_COOKIE, browserErrorPages, carriedLocale, completeParked, cookie, cookieJarFor, expiredRequestPage, pageContext, redirect,
  sendErrorPage, sendPage, withLocale, type PageText,
} from './browser.js'
import { t, tn } from '../../i18n/messages.js'
import { ACCOUNT_PAGES } from '../../domain/accounts.js'
import { queryOf } from './authorize.js'
import { loginPage } from './views.js'
import { InvalidRequest } from '../../errors.js'
import { overLongParameter, parameterLimit, tooLongDescription } from '../../domain/parameter_limits.js'

/**
 * One value of a form field; undefined when absent or repeated. Over its limit (parameter_limits.ts)
 * it is an error, never silently dropped: pages check {@link overLongParameter} first to show an
 * error page; this throw is the backstop (invalid_request).
 */
export function field (form: unknown, name: string): string | undefined {
  if (!form || typeof form !== 'object' || Object.getPrototypeOf(form) !== null) return undefined
  const values = (form as FormBody)[name]
  if (!values || values.length !== 1) return undefined
  if (values[0].length > parameterLimit(name)) throw new InvalidRequest(tooLongDescription(name))
  return values[0]
}

/** An error page naming an over-long field of a browser form, or undefined when none is. */
export function overLongPage (reply: FastifyReply, form: unknown, title: PageText): FastifyReply | undefined {
  if (!form || typeof form !== 'object' || Object.getPrototypeOf(form) !== null) return undefined
  const name = overLongParameter(form as FormBody)
  return name === undefined ? undefined : sendErrorPage(reply, 400, title, (l) => t(l, 'error.tooLong', { name, limit: parameterLimit(name) }))
}

/** "Forgot password?" (and "Create an account" when SIGNUP=open), keeping the request and language. */
function accountLinks (request: FastifyRequest, parked: ParkedRequest, locale: Locale) {
  const issuer = publicIssuer(request)
  const lang = carriedLocale(request)
  const links = [{ href: withLocale(`${issuer}${ACCOUNT_PAGES.forgot}?request=${parked.id}`, lang), text: t(locale, 'login.forgot') }]
  if (request.server.config.signup === 'open') links.push({ href: withLocale(`${issuer}${ACCOUNT_PAGES.signup}?request=${parked.id}`, lang), text: t(locale, 'login.signup') })
  return links
}

export default async function loginRoute (app: FastifyInstance) {
  browserErrorPages(app)
  function render (reply: FastifyReply, status: number, parked: ParkedRequest, browser: string, username?: string, error?: (l: Locale) => string) {
    const ctx = pageContext(reply.request)
    const page = loginPage(ctx, {
      action: publicIssuer(reply.request) + ENDPOINTS.login,
      uiLocales: carriedLocale(reply.request),
      requestId: parked.id,
      csrf: csrfToken(browser, 'login', parked.id),
      clientName: parked.client.name,
      username,
      error: error?.(ctx.locale),
      links: accountLinks(reply.request, parked, ctx.locale),
    })
    // After a successful sign-in the form's response redirects to the client (or to consent).
    return sendPage(reply, status, page, [parked.redirectUri])
  }

  app.get(ENDPOINTS.login, async (request: FastifyRequest, reply) => {
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(queryOf(request).request?.[0], browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    return render(reply, 200, parked, browser, parked.loginHint)
  })

  app.post(ENDPOINTS.login, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'login.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const requestId = field(form, 'request')
    const parked = await app.sso.parked(requestId, browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    if (!verifyCSRF(browser, 'login', parked.id, field(form, 'csrf'))) {
      request.log.warn({ event: 'csrf_rejected', form: 'login' }, 'login form without a valid CSRF token')
      return sendErrorPage(reply, 403, 'error.formExpired.title', 'login.formExpired')
    }
    const username = field(form, 'username')?.trim()
    const password = field(form, 'password')
    if (!username || !password) return render(reply, 400, parked, browser, username, (l) => t(l, 'login.error.missing'))

    const clientId = parked.client.id
    const ip = request.ip
    // Back-off before any password check; unknown usernames are throttled like known ones.
    const decision = await app.loginThrottle.check(username, ip)
    if (!decision.allowed) {
      await app.audit.record({ type: 'login_throttled', clientId, ip, detail: { retry_after: decision.retryAfter, via: 'login_form' } })
      reply.header('retry-after', String(decision.retryAfter))
      return render(reply, 429, parked, browser, username, (l) => tn(l, 'login.error.throttled', decision.retryAfter))
    }

    const user = await app.usersRepository.findByUsername(username)
    // Always run argon2, also for unknown users, so timing does not reveal which usernames exist.
    const ok = await app.passwordHasher.verify(user?.passwordHash ?? null, password)
    if (!user || !ok || user.disabled) {
      await app.loginThrottle.failed(username, ip)
      // As in the password grant: the subject is the user id, never the typed username.
      await app.audit.record({
        type: 'login_failed', subject: user?.id ?? null, clientId, ip,
        detail: { reason: !user ? 'unknown_user' : user.disabled && ok ? 'disabled' : 'bad_password', via: 'login_form' },
      })
      return render(reply, 401, parked, browser, username, (l) => t(l, 'login.error.incorrect'))
    }
    if (user.verificationPending) {
      // Self-registered, address not yet confirmed: a new link (within the per-address cap).
      await app.accounts.sendVerification(user, { issuer: publicIssuer(request), locale: pageContext(request).locale, ip })
      await app.audit.record({ type: 'login_failed', subject: user.id, clientId, ip, detail: { reason: 'email_unverified', via: 'login_form' } })
      return render(reply, 403, parked, browser, username, (l) => t(l, 'login.error.unverified'))
    }
    await app.loginThrottle.succeeded(username, ip)
    await app.audit.record({ type: 'login_succeeded', actor: user.id, subject: user.id, clientId, ip, detail: { via: 'login_form' } })
    if (app.passwordHasher.needsRehash(user.passwordHash)) {
      await app.usersRepository.updatePasswordHash(user.id, await app.passwordHasher.hash(password))
    }

    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    const { session, secret } = await app.sso.signIn(user, current)
    const jar = cookieJarFor(request)
    jar.set(reply, SESSION_COOKIE, secret)
    // A binding secret known before the sign-in (planted, or read off this device) must not carry
    // over into the consent step: the parked requests move to a new one.
    await app.sso.rebindBrowser(browser, jar.rotateBrowserSecret(reply))
    await app.sso.markAuthenticated(parked.id, session.id)

    const scopes = app.sso.grantableScopes(parked.client, user, parked.scopes)
    if (await app.sso.consentRequired(parked.client, user, scopes, parked.prompt)) {
      return redirect(reply, withLocale(`${publicIssuer(request)}${ENDPOINTS.consent}?request=${parked.id}`, carriedLocale(request)))
    }
    return completeParked(app, reply, parked, session, user)
  })
}
