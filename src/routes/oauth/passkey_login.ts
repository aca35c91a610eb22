/**
 * Passkey sign-in (WebAuthn): passwordless as the first factor from the sign-in page
 * (discoverable credentials, conditional UI), or as the second factor of a user who passed the
 * password. The page's script (assets/webauthn.js) fetches options here with the form's CSRF
 * token, runs the ceremony, and posts the assertion as an ordinary form.
 *
 * No argon2 runs on this path: a passkey sign-in costs one ECDSA/RSA/EdDSA verification.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import { verifyCSRF } from '../../domain/browser_secrets.js'
import { combineMethods } from '../../domain/authentication_methods.js'
import { PasskeyError, relyingPartyFor } from '../../domain/second_factors.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { BROWSER_COOKIE, browserErrorPages, cookie, parkedPageURL, redirect } from './browser.js'
import { field } from './login.js'
import { factorForm, isParkedForm, passkeyCSRFPurpose } from './factor_step.js'
import { afterFactor } from './sign_in.js'

export default async function passkeyLoginRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const rateLimit = app.rateLimits.login

  app.post(ENDPOINTS.passkeyOptions, { config: { rateLimit } }, async (request, reply) => {
    const form = request.body
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(field(form, 'request'), browser)
    reply.header('cache-control', 'no-store')
    if (!parked || !browser) return reply.code(400).send({ error: 'invalid_request', error_description: 'the sign-in request has expired' })
    if (!verifyCSRF(browser, passkeyCSRFPurpose(parked), parked.id, field(form, 'csrf'))) return reply.code(403).send({ error: 'invalid_request', error_description: 'invalid CSRF token' })
    // As a second factor only this user's passkeys count; passwordless, any discoverable one.
    return app.secondFactors.authenticationOptions(browser, relyingPartyFor(publicIssuer(request)), parked.factorUserId)
  })

  app.post(ENDPOINTS.passkeyLogin, { config: { rateLimit } }, async (request, reply) => {
    const front = await factorForm(app, request, reply, 'factor_or_login')
    if (!isParkedForm(front)) return front
    const { parked, browser } = front
    const form = request.body
    const clientId = parked.client.id
    const ip = request.ip
    const back = (reply: FastifyReply) => redirect(reply, parkedPageURL(request, parked.factorUserId ? ENDPOINTS.loginFactor : ENDPOINTS.login, parked.id, '&error=passkey'))
    let response: AuthenticationResponseJSON
    try {
      response = JSON.parse(field(form, 'credential') ?? '')
    } catch {
      return back(reply)
    }
    let result
    try {
      result = await app.secondFactors.authenticate(browser, relyingPartyFor(publicIssuer(request)), field(form, 'challenge') ?? '', response)
    } catch (err) {
      if (!(err instanceof PasskeyError)) throw err
      request.log.info({ event: 'passkey_refused', reason: err.message }, 'passkey assertion refused')
      await app.audit.record({ type: 'second_factor_failed', actor: parked.factorUserId, subject: parked.factorUserId, clientId, ip, detail: { method: 'passkey', reason: err.message } })
      return back(reply)
    }
    const user = await app.usersRepository.findById(result.userId)
    if (!user || user.disabled) {
      await app.audit.record({ type: 'login_failed', subject: result.userId, clientId, ip, detail: { reason: 'disabled', via: 'passkey' } })
      return back(reply)
    }
    await app.audit.record({ type: 'login_succeeded', actor: user.id, subject: user.id, clientId, ip, detail: { via: parked.factorUserId ? 'second_factor' : 'passkey', method: 'passkey' } })
    return afterFactor(app, request as FastifyRequest, reply, parked, browser, user, combineMethods(parked.factorUserId ? parked.factorAmr : [], result.methods))
  })
}
