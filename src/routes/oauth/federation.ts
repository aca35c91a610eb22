/**
 * Sign-in with an upstream identity provider (docs/federation.md):
 *
 * - `POST /federation/start`: a "Continue with NAME" form of the login page (the parked request's
 *   id and the login CSRF token), answered with a redirect to the upstream's authorization
 *   endpoint. Home-realm discovery (routes/oauth/login.ts) starts here too, without the form.
 * - `GET /federation/callback`: the upstream's redirect back. The `state` is consumed once and
 *   must belong to this browser; the code is exchanged and the ID Token validated (openid-client).
 *   Then the link (provider, upstream sub) decides: a linked user signs in (`amr` `fed`, RFC 8176
 *   §2, plus a second factor when the policy wants one), an unknown one is created just in time
 *   when the provider allows it, and an email matching a local account only leads to a page
 *   asking for that account's local sign-in or a confirmation by mail (./federation_link_mail.ts;
 *   then linked, domain/federation/broker.ts).
 * - `GET /federation/logout/done`: back from the upstream's RP-initiated logout.
 *
 * Whatever goes wrong upstream (an error response, a timeout, a closed port, a bad signature,
 * state or nonce) ends on a localized page with a link back to the sign-in page, never a 500.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import { CALLBACK_PATH, LOGOUT_DONE_PATH } from '../../domain/federation/providers.js'
import type { FinishFailure } from '../../domain/federation/broker.js'
import { UpstreamError } from '../../domain/federation/upstream.js'
import type { ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { t, type Locale, type MessageKey } from '../../i18n/messages.js'
import type { IdentityProviderRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { BROWSER_COOKIE, browserErrorPages, carriedLocale, cookie, expiredRequestPage, formExpiredPage, pageContext, parkedPageURL, redirect, sendPage } from './browser.js'
import { federationErrorPage, linkAccountPage } from './federation_views.js'
import { field, overLongPage } from './login.js'
import { afterFactor } from './sign_in.js'
import { LINK_MAIL_PATH } from './federation_link_mail.js'
import { signedOutPage } from './views.js'

export const FEDERATION_START = '/federation/start'

const FAILURE_MESSAGES: Record<FinishFailure | 'noAccount' | 'accountDisabled', MessageKey> = {
  state: 'federation.error.state',
  upstream_error: 'federation.error.denied',
  disabled: 'federation.error.disabled',
  claims: 'federation.error.claims',
  timeout: 'federation.error.timeout',
  unreachable: 'federation.error.unreachable',
  rejected: 'federation.error.rejected',
  invalid: 'federation.error.invalid',
  noAccount: 'federation.error.noAccount',
  accountDisabled: 'federation.error.accountDisabled',
}

/** The login page of a parked request (the way back from every error page). */
function loginURL (request: FastifyRequest, requestId: string): string {
  return parkedPageURL(request, ENDPOINTS.login, requestId)
}

/** An error page naming the provider, with a link back to the sign-in page when the request lives. */
export function federationFailure (request: FastifyRequest, reply: FastifyReply, status: number, reason: keyof typeof FAILURE_MESSAGES,
  options: { provider?: IdentityProviderRecord, requestId?: string, code?: string } = {}): FastifyReply {
  const ctx = pageContext(request)
  const l: Locale = ctx.locale
  const provider = options.provider?.displayName ?? ''
  const page = federationErrorPage(ctx, {
    title: provider ? t(l, 'federation.error.title', { provider }) : t(l, 'federation.error.titleGeneric'),
    message: t(l, FAILURE_MESSAGES[reason], { provider: provider || '—', code: options.code ?? '' }),
    back: options.requestId ? loginURL(request, options.requestId) : undefined,
  })
  return sendPage(reply, status, page)
}

/**
 * Sends the browser to `provider` for the parked request (also home-realm discovery); an
 * upstream that cannot be reached gets the error page instead.
 */
export async function startFederation (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, parked: ParkedRequest, browser: string, provider: IdentityProviderRecord): Promise<FastifyReply> {
  try {
    const url = await app.federation.begin({
      provider, requestId: parked.id, browser, redirectUri: publicIssuer(request) + CALLBACK_PATH, loginHint: parked.loginHint, locale: carriedLocale(request),
    })
    request.log.info({ event: 'federation_started', provider: provider.slug, client_id: parked.client.id }, 'sent to upstream identity provider')
    return redirect(reply, url.href)
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err
    request.log.warn({ event: 'federation_unavailable', provider: provider.slug, reason: err.reason, detail: err.message }, 'upstream identity provider unavailable')
    await app.audit.record({ type: 'federated_login_failed', clientId: parked.client.id, ip: request.ip, detail: { provider: provider.slug, reason: err.reason } })
    return federationFailure(request, reply, 502, err.reason, { provider, requestId: parked.id })
  }
}

export default async function federationRoutes (app: FastifyInstance) {
  browserErrorPages(app)

  app.post(FEDERATION_START, { config: { rateLimit: app.rateLimits.login } }, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'login.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(field(form, 'request'), browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    if (!verifyCSRF(browser, 'login', parked.id, field(form, 'csrf'))) return formExpiredPage(request, reply, 'federation', 'login.formExpired')
    const provider = await app.identityProviders.find(field(form, 'provider') ?? '')
    if (!provider || !provider.enabled) return federationFailure(request, reply, 400, 'disabled', { requestId: parked.id })
    return startFederation(app, request, reply, parked, browser, provider)
  })

  app.get(CALLBACK_PATH, async (request, reply) => {
    const browser = cookie(request, BROWSER_COOKIE)
    const q = request.url.indexOf('?')
    const callback = new URL(publicIssuer(request) + CALLBACK_PATH + (q === -1 ? '' : request.url.slice(q)))
    const result = await app.federation.finish({ callback, browser })
    const ip = request.ip
    if (!result.ok) {
      request.log.warn({ event: 'federated_login_failed', reason: result.reason, provider: result.provider?.slug, detail: result.detail, upstream_error: result.upstreamError }, 'federated sign-in refused')
      await app.audit.record({ type: 'federated_login_failed', ip, detail: { provider: result.provider?.slug, reason: result.reason, upstream_error: result.upstreamError } })
      const status = result.reason === 'state' || result.reason === 'upstream_error' || result.reason === 'claims' ? 400 : result.reason === 'disabled' ? 403 : 502
      // The parked request is there to go back to only if this browser still holds it.
      const parked = result.requestId ? await app.sso.parked(result.requestId, browser) : null
      return federationFailure(request, reply, status, result.reason, { provider: result.provider, requestId: parked?.id, code: result.upstreamError })
    }
    const { provider, identity } = result
    const parked = await app.sso.parked(result.requestId, browser)
    if (!parked || !browser) return expiredRequestPage(reply)
    const context = { ip, clientId: parked.client.id }
    const resolution = await app.federation.resolve(provider, identity, context)
    switch (resolution.kind) {
      case 'no_account':
        await app.audit.record({ type: 'federated_login_failed', ...context, detail: { provider: provider.slug, reason: 'no_account' } })
        return federationFailure(request, reply, 403, 'noAccount', { provider, requestId: parked.id })
      case 'disabled':
        await app.audit.record({ type: 'login_failed', subject: resolution.user.id, ...context, detail: { reason: 'disabled', via: 'federation', provider: provider.slug } })
        return federationFailure(request, reply, 403, 'accountDisabled', { provider, requestId: parked.id })
      case 'link_required': {
        await app.federation.holdPendingLink({ requestId: parked.id, browser, provider, identity, user: resolution.user, ...context })
        // For the session a mailed confirmation starts (`fed`); a local sign-in leaves it unused.
        await app.federation.holdUpstreamSession({ requestId: parked.id, browser, provider, idToken: result.idToken })
        const page = linkAccountPage(pageContext(request), {
          provider: provider.displayName, email: identity.email!, signIn: loginURL(request, parked.id),
          mail: { action: publicIssuer(request) + LINK_MAIL_PATH, csrf: csrfToken(browser, 'link', parked.id), requestId: parked.id, uiLocales: carriedLocale(request) },
        })
        return sendPage(reply, 409, page)
      }
      case 'user': {
        const { user } = resolution
        await app.audit.record({ type: 'login_succeeded', actor: user.id, subject: user.id, ...context, detail: { via: 'federation', provider: provider.slug, created: resolution.created } })
        await app.federation.holdUpstreamSession({ requestId: parked.id, browser, provider, idToken: result.idToken })
        // RFC 8176 `fed`; the local policy may still ask this user for a second factor.
        return afterFactor(app, request, reply, parked, browser, user, ['fed'])
      }
    }
  })

  app.get(LOGOUT_DONE_PATH, async (request, reply) => {
    const state = new URLSearchParams(request.url.split('?')[1] ?? '').get('state') ?? undefined
    const next = await app.federation.finishLogout(state, cookie(request, BROWSER_COOKIE))
    if (next) return redirect(reply, next)
    return sendPage(reply, 200, signedOutPage(pageContext(request)))
  })
}
