/**
 * End-session endpoint: OIDC RP-Initiated Logout 1.0 (GET and POST).
 *
 * Ends the SSO session (and, with it, the refresh-token families bound to it), notifies clients
 * by back-channel logout, clears the cookie, then returns to the client's registered
 * `post_logout_redirect_uri` with `state`, or shows a signed-out page.
 *
 * Logout is done at once only when an `id_token_hint` names the browser's current session
 * (the client proved it holds this session's ID Token). Otherwise §2 says the OP "SHOULD ask the
 * End-User whether to log out": a confirmation page whose form carries a CSRF token derived from
 * the session cookie, so a third-party page cannot sign users out.
 *
 * A cross-site POST arrives without the SameSite=Lax cookie, so it is answered with a 303 to the
 * same request as a GET, a top-level navigation that does carry it.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { JWTPayload } from 'jose'
import type { FormBody } from '../../plugins/form_body.js'
import { redirectURL } from '../../domain/authorization_request.js'
import { matchRegisteredURI, uriProblem } from '../../domain/redirect_uris.js'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import { minterFor, publicIssuer, ssoFor } from '../../http/public_issuer.js'
import type { ClientRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { SESSION_COOKIE, carriedLocale, cookie, cookieJarFor, pageContext, redirect, sendErrorPage, sendPage } from './browser.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { logoutConfirmPage, signedOutPage } from './views.js'
import { LOGOUT_DONE_PATH } from '../../domain/federation/providers.js'

const PARAMETERS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state', 'logout_hint', 'ui_locales'] as const

export default async function logoutRoute (app: FastifyInstance) {
  async function logout (request: FastifyRequest, reply: FastifyReply, form: FormBody, posted: boolean) {
    const action = publicIssuer(request) + ENDPOINTS.endSession
    const long = overLongPage(reply, form, 'logout.cannot')
    if (long) return long
    const get = (name: string) => field(form, name) || undefined
    const idTokenHint = get('id_token_hint')
    const state = get('state')
    const postLogoutRedirectUri = get('post_logout_redirect_uri')
    const sessionSecret = cookie(request, SESSION_COOKIE)
    const csrf = get('csrf')

    if (posted && csrf === undefined && sessionSecret === undefined) {
      const query = new URLSearchParams()
      for (const name of PARAMETERS) { const v = get(name); if (v !== undefined) query.set(name, v) }
      return redirect(reply, `${action}?${query}`)
    }

    let hint: JWTPayload | null = null
    if (idTokenHint) {
      hint = await minterFor(request).verifyIdTokenHint(idTokenHint)
      if (!hint) return sendErrorPage(reply, 400, 'logout.cannot', 'logout.error.badHint')
    }
    const audience = hint ? (Array.isArray(hint.aud) ? hint.aud : [hint.aud]) : []
    const clientId = get('client_id') ?? (audience.length === 1 ? audience[0] : undefined)
    if (hint && clientId && !audience.includes(clientId)) {
      return sendErrorPage(reply, 400, 'logout.cannot', 'logout.error.clientMismatch')
    }
    let client: ClientRecord | null = null
    if (clientId) {
      client = await app.clientCache.find(clientId)
      if (!client) return sendErrorPage(reply, 400, 'logout.cannot', 'logout.error.unknownClient')
    }
    if (postLogoutRedirectUri !== undefined) {
      // §3: the URI "MUST have been previously registered"; without a client we cannot check it.
      if (!client) return sendErrorPage(reply, 400, 'logout.cannot', 'logout.error.noClient')
      if (matchRegisteredURI(client.postLogoutRedirectUris, postLogoutRedirectUri) === undefined || uriProblem(postLogoutRedirectUri, 'post_logout_redirect_uri')) {
        return sendErrorPage(reply, 400, 'logout.cannot', 'logout.error.unregisteredUri')
      }
    }

    const current = await app.sso.currentSession(sessionSecret)
    if (current) {
      const confirmed = (hint !== null && hint.sid === current.session.id) ||
        (posted && verifyCSRF(sessionSecret, 'logout', current.session.id, csrf))
      if (!confirmed) {
        return sendPage(reply, 200, logoutConfirmPage(pageContext(request), {
          action,
          csrf: csrfToken(sessionSecret!, 'logout', current.session.id),
          clientName: client?.name,
          fields: { client_id: client?.id, post_logout_redirect_uri: postLogoutRedirectUri, state, ui_locales: carriedLocale(request) },
        }), [postLogoutRedirectUri, await app.federation.logoutTarget(current.session.id)].filter((u): u is string => !!u))
      }
      await ssoFor(request).logout(current.session.id)
      request.log.info({ event: 'rp_initiated_logout', client_id: client?.id, sid: current.session.id }, 'session ended by logout')
      await app.audit.record({ type: 'logout', actor: current.session.userId, subject: current.session.userId, clientId: client?.id, ip: request.ip, detail: { sid: current.session.id } })
      // A session started through an upstream provider with upstream logout on: end that one too
      // (RP-initiated logout there), then come back to LOGOUT_DONE_PATH and on to `returnTo`.
      const upstream = await app.federation.beginLogout({
        sessionId: current.session.id,
        browser: cookieJarFor(request).browserSecret(request, reply),
        returnTo: postLogoutRedirectUri ? redirectURL(postLogoutRedirectUri, { state }) : null,
        postLogoutRedirectUri: publicIssuer(request) + LOGOUT_DONE_PATH,
      })
      if (upstream) {
        cookieJarFor(request).clear(reply, SESSION_COOKIE)
        request.log.info({ event: 'upstream_logout', sid: current.session.id }, 'sent to the upstream provider to sign out there too')
        return redirect(reply, upstream.href)
      }
    }
    if (sessionSecret) cookieJarFor(request).clear(reply, SESSION_COOKIE)
    if (postLogoutRedirectUri) return redirect(reply, redirectURL(postLogoutRedirectUri, { state }))
    return sendPage(reply, 200, signedOutPage(pageContext(request)))
  }

  app.get(ENDPOINTS.endSession, (request, reply) => logout(request, reply, queryOf(request), false))
  app.post(ENDPOINTS.endSession, (request, reply) => {
    const body = request.body
    const form = body && typeof body === 'object' && Object.getPrototypeOf(body) === null ? body as FormBody : queryOf(request)
    return logout(request, reply, form, true)
  })
}
