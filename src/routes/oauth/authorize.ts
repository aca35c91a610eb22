/**
 * Authorization endpoint (RFC 6749 §3.1, §4.1.1; RFC 7636; OIDC Core §3.1.2), GET and POST.
 *
 * Validates the request (errors about the client or its redirect URI are shown here, never
 * redirected), then: with a live session that satisfies prompt/max_age and consent, the code is
 * issued at once (single sign-on); otherwise the request is parked server-side and the browser is
 * sent to the login or consent page with only the parked request's id.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ConsentRequired, LoginRequired } from '../../errors.js'
import { parseForm, type FormBody } from '../../plugins/form_body.js'
import {
  AuthorizationPageError, AuthorizationRedirectError, validateAuthorizationRequest,
} from '../../domain/authorization_request.js'
import { clientIdentityUnproven } from '../../domain/native_apps.js'
import { pushedRequestsRequired, requestReferenceId } from '../../domain/pushed_authorization.js'
import { requestObjectParameters } from '../../domain/request_object.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { mfaDemanded } from './sign_in.js'
import {
  SESSION_COOKIE, browserErrorPages, carriedLocale, cookie, cookieJarFor, redirect, redirectError, redirectWithCode, sendErrorPage, withLocale,
} from './browser.js'
import { t } from '../../i18n/messages.js'

export function queryOf (request: FastifyRequest): FormBody {
  const q = request.url.indexOf('?')
  return parseForm(q === -1 ? '' : request.url.slice(q + 1))
}

export default async function authorizeRoute (app: FastifyInstance) {
  // Every anonymous request that needs a sign-in parks a row: GET and POST share one per-IP budget.
  if (app.rateLimits.authorize) app.addHook('onRequest', app.rateLimit(app.rateLimits.authorize))
  browserErrorPages(app)

  async function authorize (request: FastifyRequest, reply: FastifyReply, params: FormBody) {
    const issuer = publicIssuer(request)
    const jar = cookieJarFor(request)
    let req
    try {
      req = await validateAuthorizationRequest(params, (id) => app.clientCache.find(id), {
        pushed: async (requestUri, client) => {
          const id = requestReferenceId(requestUri)
          return id === undefined ? null : app.pushedAuthorizations.consume(id, client.id, new Date())
        },
        requestObject: (jwt, client) => requestObjectParameters(jwt, client, { keys: app.clientKeys, issuer, policy: app.config.policy.clientKeys }),
        pushRequired: (client) => pushedRequestsRequired(client, app.config.policy),
      })
    } catch (err) {
      if (err instanceof AuthorizationPageError) {
        request.log.info({ event: 'authorization_request_rejected', reason: err.message }, 'authorization request rejected')
        const { reason, detail } = err
        return sendErrorPage(reply, 400, 'authorize.cannot', (l) => t(l, `authorize.error.${reason}`, { detail: detail ?? '' }))
      }
      if (err instanceof AuthorizationRedirectError) {
        request.log.info({ event: 'authorization_request_rejected', error: err.error.error, detail: err.error.description }, 'authorization request rejected')
        return redirectError(reply, issuer, err.redirectUri, err.error, err.state)
      }
      throw err
    }

    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    const prompt = req.prompt
    if (app.sso.loginRequired(current, req)) {
      if (prompt.includes('none')) return redirectError(reply, issuer, req.redirectUri, new LoginRequired('the user is not signed in'), req.state)
      const id = await app.sso.park(req, jar.browserSecret(request, reply), null)
      return redirect(reply, withLocale(`${issuer}${ENDPOINTS.login}?request=${id}`, carriedLocale(request)))
    }
    const { session, user } = current!
    // Step-up (OIDC Core §3.1.2.1 acr_values; MFA required by policy, client or user): the session
    // is too weak, so the user presents a second factor (or enrols one) on top of it.
    if (app.sso.stepUpRequired(session, req, mfaDemanded(app, req.client, user, req.acrValues))) {
      if (prompt.includes('none')) return redirectError(reply, issuer, req.redirectUri, new LoginRequired('a stronger authentication is required'), req.state)
      const id = await app.sso.park(req, jar.browserSecret(request, reply), null)
      await app.sso.firstFactorPassed(id, user.id, session.amr)
      const page = await app.secondFactors.hasSecondFactor(user.id) ? ENDPOINTS.loginFactor : ENDPOINTS.loginEnrol
      return redirect(reply, `${issuer}${page}?request=${id}`)
    }
    const scopes = app.sso.grantableScopes(req.client, user, req.scopes)
    // Nobody has interacted with this request: a public native client's remembered consent
    // could be replayed by any app claiming its redirect URI (RFC 8252 §8.6).
    const unproven = clientIdentityUnproven(req.client, req.redirectUri)
    if (await app.sso.consentRequired(req.client, user, scopes, prompt, !unproven)) {
      if (prompt.includes('none')) {
        const why = unproven ? 'a native app must be approved by the user each time' : 'the user has not approved this application'
        return redirectError(reply, issuer, req.redirectUri, new ConsentRequired(why), req.state)
      }
      const id = await app.sso.park(req, jar.browserSecret(request, reply), session.id)
      return redirect(reply, withLocale(`${issuer}${ENDPOINTS.consent}?request=${id}`, carriedLocale(request)))
    }
    return redirectWithCode(app, reply, req, session, user)
  }

  app.get(ENDPOINTS.authorization, (request, reply) => authorize(request, reply, queryOf(request)))
  // OIDC Core §3.1.2.1: "Authorization Servers MUST support the use of the HTTP GET and POST methods".
  app.post(ENDPOINTS.authorization, (request, reply) => {
    const body = request.body
    // Only our form parser yields null-prototype objects; a JSON body is not an authorization request.
    const form = body && typeof body === 'object' && Object.getPrototypeOf(body) === null ? body as FormBody : parseForm('')
    return authorize(request, reply, form)
  })
}
