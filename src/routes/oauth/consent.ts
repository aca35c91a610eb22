/**
 * The consent page (OIDC Core §3.1.2.4): lists what a third-party application asks for; the
 * decision is remembered per user and client (revocable with `stamp consent revoke`).
 * First-party clients never come here.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AccessDenied } from '../../errors.js'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import {
  BROWSER_COOKIE, SESSION_COOKIE, carriedLocale, completeParked, cookie, expiredRequestPage, formExpiredPage, pageContext, redirectError, sendErrorPage, sendPage,
} from './browser.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { consentPage } from './views.js'
import type { ClientRecord } from '../../storage/types.js'

export default async function consentRoute (app: FastifyInstance) {
  /** The parked request and the session that signed in for it (the same browser, still signed in). */
  async function load (request: FastifyRequest, requestId: string | undefined) {
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(requestId, browser)
    if (!parked || !browser || !parked.sessionId) return null
    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    if (!current || current.session.id !== parked.sessionId) return null
    return { parked, browser, ...current }
  }

  app.get(ENDPOINTS.consent, async (request, reply) => {
    const loaded = await load(request, queryOf(request).request?.[0])
    if (!loaded) return expiredRequestPage(reply)
    const { parked, browser, user } = loaded
    return sendPage(reply, 200, consentPage(pageContext(request), {
      action: publicIssuer(request) + ENDPOINTS.consent,
      uiLocales: carriedLocale(request),
      requestId: parked.id,
      csrf: csrfToken(browser, 'consent', parked.id),
      clientName: parked.client.name,
      ...selfRegisteredHost(parked.client, parked.redirectUri),
      username: user.username,
      scopes: app.sso.grantableScopes(parked.client, user, parked.scopes),
    }), [parked.redirectUri])
  })

  app.post(ENDPOINTS.consent, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'consent.cannot')
    if (long) return long
    const loaded = await load(request, field(form, 'request'))
    if (!loaded) return expiredRequestPage(reply)
    const { parked, browser, session, user } = loaded
    if (!verifyCSRF(browser, 'consent', parked.id, field(form, 'csrf'))) return formExpiredPage(request, reply, 'consent', 'consent.formExpired')
    const decision = field(form, 'decision')
    const scopes = app.sso.grantableScopes(parked.client, user, parked.scopes)
    const audit = { actor: user.id, subject: user.id, clientId: parked.client.id, ip: request.ip, detail: { scopes } }
    if (decision === 'allow') {
      await app.sso.rememberConsent(user, parked.client, scopes)
      request.log.info({ event: 'consent_granted', client_id: parked.client.id, user_id: user.id }, 'consent granted')
      await app.audit.record({ type: 'consent_granted', ...audit })
      return completeParked(app, reply, parked, session, user)
    }
    if (decision === 'deny') {
      if (!await app.sso.takeParked(parked.id)) return expiredRequestPage(reply)
      request.log.info({ event: 'consent_denied', client_id: parked.client.id, user_id: user.id }, 'consent denied')
      await app.audit.record({ type: 'consent_denied', ...audit })
      return redirectError(reply, publicIssuer(request), parked.redirectUri, new AccessDenied('the user denied the request'), parked.state)
    }
    return sendErrorPage(reply, 400, 'consent.noDecision.title', 'consent.noDecision.message')
  })
}

/**
 * A self-registered client's name is whatever it chose; the host is what the user can check: the
 * metadata document's host (it controls the client_id), or for RFC 7591 clients the host the
 * browser is sent back to.
 */
function selfRegisteredHost (client: ClientRecord, redirectUri: string): { clientHost?: string, clientHostKind?: 'publishedBy' | 'returnsTo' } {
  if (client.origin === 'cimd') return { clientHost: new URL(client.id).host, clientHostKind: 'publishedBy' }
  if (client.origin === 'dcr') return { clientHost: new URL(redirectUri).host, clientHostKind: 'returnsTo' }
  return {}
}
