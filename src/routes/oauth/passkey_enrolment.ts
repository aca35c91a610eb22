/**
 * Passkey enrolment at sign-in: when MFA is required and the user has no factor yet, the
 * enrolment page (./second_factor.ts) offers a passkey first. Its script (assets/webauthn.js)
 * fetches registration options here with the form's CSRF token, runs `navigator.credentials.create()`
 * and posts the new credential as an ordinary form. Registered, the sign-in goes on as after a
 * TOTP enrolment: recovery codes shown once, then the session, with the passkey's methods in
 * `amr` (RFC 8176 `hwk`/`swk`, `user` when the authenticator verified the user).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { combineMethods, passkeyMethods } from '../../domain/authentication_methods.js'
import { PasskeyError, relyingPartyFor } from '../../domain/second_factors.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { browserErrorPages, parkedPageURL, redirect } from './browser.js'
import { field } from './login.js'
import { factorForm, finishEnrolment, isPending, mayEnrol } from './factor_step.js'

export default async function passkeyEnrolmentRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const rateLimit = app.rateLimits.login

  app.post(ENDPOINTS.loginEnrolPasskeyOptions, { config: { rateLimit } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const pending = await factorForm(app, request, reply)
    // The script reads JSON; a refused front (expired request, CSRF) is a page, which it reports as a failure.
    if (!isPending(pending)) return pending
    if (!await mayEnrol(app, pending)) return reply.code(409).send({ error: 'invalid_request', error_description: 'a second factor is already set up' })
    return app.secondFactors.registrationOptions(pending.user, pending.browser, relyingPartyFor(publicIssuer(request)))
  })

  app.post(ENDPOINTS.loginEnrolPasskey, { config: { rateLimit } }, async (request, reply) => {
    const pending = await factorForm(app, request, reply)
    if (!isPending(pending)) return pending
    const { parked, browser, user } = pending
    const to = (endpoint: string, error = '') =>
      redirect(reply, parkedPageURL(request, endpoint, parked.id, error))
    // Enrolled meanwhile (another tab): the second-factor page asks for it.
    if (!await mayEnrol(app, pending)) return to(ENDPOINTS.loginFactor)
    let passkey
    try {
      const response = JSON.parse(field(request.body, 'credential') ?? '') as RegistrationResponseJSON
      passkey = await app.secondFactors.register(user, browser, relyingPartyFor(publicIssuer(request)), field(request.body, 'challenge') ?? '', response, field(request.body, 'name') ?? '')
    } catch (err) {
      if (!(err instanceof PasskeyError) && !(err instanceof SyntaxError)) throw err
      request.log.info({ event: 'passkey_registration_refused', reason: err.message }, 'passkey registration refused')
      return to(ENDPOINTS.loginEnrol, '&error=passkey')
    }
    await app.audit.record({
      type: 'passkey_registered', actor: user.id, subject: user.id, clientId: parked.client.id, ip: request.ip,
      detail: { via: 'sign_in', credential_id: passkey.id, backup_eligible: passkey.backupEligible, transports: passkey.transports },
    })
    return finishEnrolment(app, request, reply, pending, combineMethods(parked.factorAmr, passkeyMethods(passkey, passkey.userVerified)))
  })
}
