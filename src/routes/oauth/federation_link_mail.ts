/**
 * Linking an upstream identity to an existing local account by mail, the second way the account's
 * owner proves control of it (issue 16; the first is a local sign-in, ./sign_in.ts):
 *
 * - `POST /federation/link/mail`: "Send me a confirmation mail instead" on the link page. A
 *   single-use link (account_tokens, hashed, no longer valid than the pending link) goes to the
 *   account's verified address, within the per-address cap; the page that follows is the same
 *   whether a mail went out or not (domain/accounts.ts, no enumeration).
 * - `GET /federation/link/confirm?token=…`: a confirm button (opening the link uses nothing: mail
 *   scanners follow links). It works only in the browser that started the sign-in: the pending
 *   link is bound to that browser's binding secret, as the `state` of the upstream round trip is.
 * - `POST /federation/link/confirm`: consumes the token, takes the pending link and links the
 *   identity in one transaction, then signs the user in (`fed`: the upstream proved the identity,
 *   the mail the account) and continues the parked authorization request.
 *
 * Both POSTs are rate limited per IP like the other mail flows (`RATE_LIMIT_ACCOUNT_MAX`).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ACCOUNT_PAGES } from '../../domain/accounts.js'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { t } from '../../i18n/messages.js'
import { BROWSER_COOKIE, browserErrorPages, carriedLocale, cookie, expiredRequestPage, formExpiredPage, pageContext, sendErrorPage, sendPage } from './browser.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { noticePage } from './account_views.js'
import { backToSignIn } from './account_forms.js'
import { confirmLinkPage } from './federation_views.js'
import { afterFactor } from './sign_in.js'

export const LINK_MAIL_PATH = '/federation/link/mail'

export default async function federationLinkMailRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const rateLimit = app.rateLimits.account

  const formExpired = (request: FastifyRequest, reply: FastifyReply) => formExpiredPage(request, reply, 'link', 'account.formExpired')
  const invalidLink = (reply: FastifyReply) => sendErrorPage(reply, 400, 'federation.linkMail.invalid.title', 'federation.linkMail.invalid.message')
  const otherBrowser = (reply: FastifyReply) => sendErrorPage(reply, 400, 'federation.linkMail.invalid.title', 'federation.linkMail.otherBrowser')

  app.post(LINK_MAIL_PATH, { config: { rateLimit } }, async (request, reply) => {
    const long = overLongPage(reply, request.body, 'account.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(field(request.body, 'request'), browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    if (!verifyCSRF(browser, 'link', parked.id, field(request.body, 'csrf'))) return formExpired(request, reply)
    const held = await app.federation.pendingLink(parked.id, browser)
    if (!held) return expiredRequestPage(reply)
    const ctx = pageContext(request)
    await app.accounts.sendLinkConfirmation(held.user, held.pending, held.provider.displayName, {
      issuer: publicIssuer(request), locale: ctx.locale, ip: request.ip, clientId: parked.client.id,
    })
    const minutes = app.accounts.linkMailMinutes(held.pending)
    return sendPage(reply, 200, noticePage(ctx, {
      title: t(ctx.locale, 'federation.linkMail.sent.title'),
      message: t(ctx.locale, 'federation.linkMail.sent.message', { email: held.pending.email ?? '', minutes, provider: held.provider.displayName }),
      // Back to the same request's sign-in page, where the pending link still waits for a password.
      links: backToSignIn(request, ctx.locale),
    }))
  })

  /** The token's pending link, in this browser, with its parked request (null: an invalid link). */
  async function load (request: FastifyRequest, token: string | undefined) {
    const link = await app.accounts.liveLink(token, 'link_identity')
    if (!link?.pendingLinkId) return null
    const browser = cookie(request, BROWSER_COOKIE)
    const held = await app.federation.pendingLinkById(link.pendingLinkId, browser)
    if (!held || held === 'other_browser') return held
    return { ...held, link, token: token!, browser: browser! }
  }

  app.get(ACCOUNT_PAGES.confirmLink, async (request, reply) => {
    const loaded = await load(request, queryOf(request).token?.[0])
    if (!loaded) return invalidLink(reply)
    if (loaded === 'other_browser') return otherBrowser(reply)
    const parked = await app.sso.parked(loaded.pending.requestId, loaded.browser)
    const page = confirmLinkPage(pageContext(request), {
      provider: loaded.provider.displayName, username: loaded.user.username, action: publicIssuer(request) + ACCOUNT_PAGES.confirmLink,
      csrf: csrfToken(loaded.browser, 'link', loaded.link.id), token: loaded.token, uiLocales: carriedLocale(request),
    })
    // The confirmation redirects on to the application (or consent): CSP form-action allows it.
    return sendPage(reply, 200, page, parked ? [parked.redirectUri] : [])
  })

  app.post(ACCOUNT_PAGES.confirmLink, { config: { rateLimit } }, async (request, reply) => {
    const long = overLongPage(reply, request.body, 'account.cannot')
    if (long) return long
    const token = field(request.body, 'token')
    const loaded = await load(request, token)
    if (!loaded) return invalidLink(reply)
    if (loaded === 'other_browser') return otherBrowser(reply)
    if (!verifyCSRF(loaded.browser, 'link', loaded.link.id, field(request.body, 'csrf'))) return formExpired(request, reply)
    const parked = await app.sso.parked(loaded.pending.requestId, loaded.browser)
    const done = await app.federation.confirmByMail(loaded.token, loaded.browser, { ip: request.ip, clientId: parked?.client.id })
    if (!done) return invalidLink(reply)
    const ctx = pageContext(request)
    if (!parked) {
      // Linked, but the sign-in it belonged to has expired: the next one goes straight through.
      return sendPage(reply, 200, noticePage(ctx, {
        title: t(ctx.locale, 'federation.linkMail.done.title'),
        message: t(ctx.locale, 'federation.linkMail.done.message', { provider: done.provider.displayName }),
      }))
    }
    await app.audit.record({ type: 'login_succeeded', actor: done.user.id, subject: done.user.id, ip: request.ip, clientId: parked.client.id, detail: { via: 'federation', provider: done.provider.slug, linked_by: 'mail' } })
    // RFC 8176 `fed`, as any federated sign-in; the local policy may still ask for a second factor.
    return afterFactor(app, request, reply, parked, loaded.browser, done.user, ['fed'])
  })
}
