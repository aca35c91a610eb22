/**
 * What the mail-flow pages share: CSRF tokens bound to the browser cookie (as the login form's),
 * the parked sign-in request a flow started from (for the "back to sign in" link), and the
 * password policy's verdict in the page's language.
 *
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { csrfToken, verifyCSRF, type CSRFPurpose } from '../../domain/browser_secrets.js'
import { t, type Locale } from '../../i18n/messages.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { BROWSER_COOKIE, cookie, cookieJarFor, parkedPageURL } from './browser.js'
import { queryOf } from './authorize.js'
import { field } from './login.js'
import type { Link } from './account_views.js'

/** The CSRF token for a form of `purpose` about `id`, setting the browser cookie when there is none. */
export function formCSRF (request: FastifyRequest, reply: FastifyReply, purpose: CSRFPurpose, id: string): string {
  return csrfToken(cookieJarFor(request).browserSecret(request, reply), purpose, id)
}

export function checkCSRF (request: FastifyRequest, purpose: CSRFPurpose, id: string): boolean {
  const ok = verifyCSRF(cookie(request, BROWSER_COOKIE), purpose, id, field(request.body, 'csrf'))
  if (!ok) request.log.warn({ event: 'csrf_rejected', form: purpose }, `${purpose} form without a valid CSRF token`)
  return ok
}

/** The parked request id a flow was started from (query or form), when well-formed. */
export function parkedRequestId (request: FastifyRequest): string | undefined {
  const id = request.method === 'GET' ? queryOf(request).request?.[0] : field(request.body, 'request')
  return id && /^[A-Za-z0-9_-]{16,64}$/.test(id) ? id : undefined
}

/** "Back to sign in" when the flow started at the login page. */
export function backToSignIn (request: FastifyRequest, locale: Locale): Link[] {
  const id = parkedRequestId(request)
  if (!id) return []
  return [{ href: parkedPageURL(request, ENDPOINTS.login, id), text: t(locale, 'account.backToSignIn') }]
}

/** The password policy's verdict (domain/password_policy.ts, English) in the page's language. */
export function passwordProblem (locale: Locale, violation: string): string {
  let m: RegExpExecArray | null
  if ((m = /at least (\d+)/.exec(violation))) return t(locale, 'password.tooShort', { min: m[1] })
  if ((m = /at most (\d+)/.exec(violation))) return t(locale, 'password.tooLong', { max: m[1] })
  if (/username/.test(violation)) return t(locale, 'password.isUsername')
  if (/common/.test(violation)) return t(locale, 'password.common')
  return violation
}
