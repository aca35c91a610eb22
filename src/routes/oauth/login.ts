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
  BROWSER_COOKIE, browserErrorPages, carriedLocale, cookie, expiredRequestPage, pageContext,
  formExpiredPage, sendErrorPage, sendPage, withLocale, type PageText,
} from './browser.js'
import { t, tn } from '../../i18n/messages.js'
import { ACCOUNT_PAGES } from '../../domain/accounts.js'
import { queryOf } from './authorize.js'
import { ACCOUNT_CLIENT_ID } from '../../domain/sso.js'
import { afterFactor } from './sign_in.js'
import { PASSKEY_SCRIPTS } from '../static.js'
import { loginPage } from './views.js'
import { InvalidRequest } from '../../errors.js'
import { overLongParameter, parameterLimit, tooLongDescription } from '../../domain/parameter_limits.js'
import { checkPassword } from './password_sign_in.js'
import { FEDERATION_START, startFederation } from './federation.js'

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

/** Where a provider's authorization endpoint lives (the configured one, else the issuer's origin). */
function upstreamOrigin (p: { authorizationEndpoint: string | null, issuer: string | null }): string {
  return p.authorizationEndpoint ?? p.issuer ?? ''
}

export default async function loginRoute (app: FastifyInstance) {
  browserErrorPages(app)
  async function render (reply: FastifyReply, status: number, parked: ParkedRequest, browser: string, username?: string, error?: (l: Locale) => string, passkeyFailed = false) {
    const ctx = pageContext(reply.request)
    const [providers, pending] = await Promise.all([app.identityProviders.enabled(), app.federation.pendingLinkFor(parked.id, browser)])
    const issuer = publicIssuer(reply.request)
    const passkeys = app.config.policy.mfa.mode !== 'off'
    const page = loginPage(ctx, {
      passkeyFailed,
      passkey: passkeys ? { optionsAction: issuer + ENDPOINTS.passkeyOptions, action: issuer + ENDPOINTS.passkeyLogin, scripts: PASSKEY_SCRIPTS } : undefined,
      action: issuer + ENDPOINTS.login,
      uiLocales: carriedLocale(reply.request),
      requestId: parked.id,
      csrf: csrfToken(browser, 'login', parked.id),
      clientName: parked.client.id === ACCOUNT_CLIENT_ID ? t(ctx.locale, 'account.client') : parked.client.name,
      username,
      error: error?.(ctx.locale),
      links: accountLinks(reply.request, parked, ctx.locale),
      // While a link waits for a local sign-in, only the local ways are offered.
      federation: pending ? undefined : { action: issuer + FEDERATION_START, providers: providers.map((p) => ({ slug: p.slug, name: p.displayName })) },
      pendingProvider: pending?.displayName,
    })
    // After a successful sign-in the form's response redirects to the client (or to consent);
    // "Continue with" forms (and an email of a provider's domain) redirect to the upstream.
    return sendPage(reply, status, page, [parked.redirectUri, ...providers.map(upstreamOrigin)])
  }

  app.get(ENDPOINTS.login, async (request: FastifyRequest, reply) => {
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(queryOf(request).request?.[0], browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    const failed = queryOf(request).error?.[0] === 'passkey'
    // Home-realm discovery: a login_hint whose email domain belongs to a provider goes straight
    // there, unless a pending link waits for this account's local sign-in.
    const home = failed ? undefined : await app.identityProviders.forEmail(parked.loginHint)
    if (home && !await app.federation.pendingLinkFor(parked.id, browser)) return startFederation(app, request, reply, parked, browser, home)
    return render(reply, 200, parked, browser, parked.loginHint, failed ? (l) => t(l, 'passkey.failed') : undefined, failed)
  })

  app.post(ENDPOINTS.login, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'login.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const requestId = field(form, 'request')
    const parked = await app.sso.parked(requestId, browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    if (!verifyCSRF(browser, 'login', parked.id, field(form, 'csrf'))) return formExpiredPage(request, reply, 'login', 'login.formExpired')
    const username = field(form, 'username')?.trim()
    const password = field(form, 'password')
    // Home-realm discovery from the form: an email of a provider's domain and no password.
    if (username && !password) {
      const home = await app.identityProviders.forEmail(username)
      if (home) return startFederation(app, request, reply, { ...parked, loginHint: username }, browser, home)
    }
    if (!username || !password) return render(reply, 400, parked, browser, username, (l) => t(l, 'login.error.missing'))

    // The success event goes with what follows (the first-factor mark, or the sign-in's transaction).
    const check = await checkPassword(app, request, { username, password, clientId: parked.client.id, via: 'login_form', recordSuccess: false })
    if (!check.ok && check.reason === 'throttled') {
      reply.header('retry-after', String(check.retryAfter))
      return render(reply, 429, parked, browser, username, (l) => tn(l, 'login.error.throttled', check.retryAfter))
    }
    if (!check.ok && check.reason === 'unverified') {
      // Self-registered, address not yet confirmed: a new link (within the per-address cap).
      await app.accounts.sendVerification(check.user, { issuer: publicIssuer(request), locale: pageContext(request).locale, ip: request.ip })
      return render(reply, 403, parked, browser, username, (l) => t(l, 'login.error.unverified'))
    }
    if (!check.ok) return render(reply, 401, parked, browser, username, (l) => t(l, 'login.error.incorrect'))
    // RFC 8176 `pwd`; a second factor (its page as this answer) or an enrolment may follow (./sign_in.ts).
    return afterFactor(app, request, reply, parked, browser, check.user, ['pwd'], check.event, 'page')
  })
}
