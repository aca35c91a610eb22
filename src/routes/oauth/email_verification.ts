/**
 * Address verification: `GET /email/verify?token=…` shows a confirm button (the link is not used
 * by opening it, so a mail scanner that follows links confirms nothing); `POST` consumes the
 * link and marks the address verified. A self-registered user can sign in from then on.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ACCOUNT_PAGES } from '../../domain/accounts.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { t } from '../../i18n/messages.js'
import { browserErrorPages, carriedLocale, pageContext, sendErrorPage, sendPage } from './browser.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { checkCSRF, formCSRF } from './account_forms.js'
import { noticePage, verifyPage } from './account_views.js'

export default async function emailVerificationRoutes (app: FastifyInstance) {
  browserErrorPages(app)

  const invalid = (reply: FastifyReply) => sendErrorPage(reply, 400, 'reset.invalid.title', 'verify.invalid.message')

  async function load (request: FastifyRequest, token: string | undefined) {
    const link = await app.accounts.liveLink(token, 'verify_email')
    return link ? { link, token: token! } : null
  }

  app.get(ACCOUNT_PAGES.verify, async (request, reply) => {
    const loaded = await load(request, queryOf(request).token?.[0])
    if (!loaded) return invalid(reply)
    return sendPage(reply, 200, verifyPage(pageContext(request), {
      action: publicIssuer(request) + ACCOUNT_PAGES.verify,
      csrf: formCSRF(request, reply, 'verify', loaded.link.id),
      uiLocales: carriedLocale(request),
      hidden: { token: loaded.token },
      email: loaded.link.email,
    }))
  })

  app.post(ACCOUNT_PAGES.verify, { config: { rateLimit: app.rateLimits.account } }, async (request, reply) => {
    const long = overLongPage(reply, request.body, 'account.cannot')
    if (long) return long
    const loaded = await load(request, field(request.body, 'token'))
    if (!loaded) return invalid(reply)
    if (!checkCSRF(request, 'verify', loaded.link.id)) return sendErrorPage(reply, 403, 'error.formExpired.title', 'account.formExpired')
    const done = await app.accounts.verifyEmail(loaded.token, request.ip)
    if (!done) return invalid(reply)
    const locale = pageContext(request).locale
    return sendPage(reply, 200, noticePage(pageContext(request), { title: t(locale, 'verify.done.title'), message: t(locale, 'verify.done.message') }))
  })
}
