/**
 * Pushed authorization request endpoint (RFC 9126 §2): the client posts the parameters it would
 * have sent to /authorize, authenticated as at the token endpoint; Stamp validates them now, as
 * /authorize would (§2.1: "the AS MUST validate the pushed request as it would an authorization
 * request"), stores them, and answers `201 {request_uri, expires_in}`.
 *
 * A `request` parameter (a signed request object, RFC 9101) is verified here and replaced by its
 * parameters. Errors are JSON, as at the token endpoint (§2.3).
 *
 * A DPoP proof sent with the push binds the authorization code to its key, as `dpop_jkt` would
 * (RFC 9449 §10.1); the token request then has to prove that key (grants/authorization_code.ts).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidDPoPProof, InvalidRequest } from '../../errors.js'
import { AuthorizationPageError, AuthorizationRedirectError, validateAuthorizationRequest } from '../../domain/authorization_request.js'
import { FAPI2_PROFILE } from '../../domain/client_assertion.js'
import { newRequestReference } from '../../domain/pushed_authorization.js'
import { requestObjectParameters } from '../../domain/request_object.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { authenticate, formOf, single } from './params.js'
import { dpopProof, sendDPoPNonce } from './dpop_proof.js'

/** Client authentication parameters: they authenticate the push, they are not part of the request. */
const AUTHENTICATION_PARAMETERS = new Set(['client_secret', 'client_assertion', 'client_assertion_type'])

export default async function parRoute (app: FastifyInstance) {
  app.post(ENDPOINTS.pushedAuthorization, { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const { client } = await authenticate(request, form, app.clientCache)
    reply.header('cache-control', 'no-store')
    // §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be provided."
    if (form.request_uri) throw new InvalidRequest('request_uri must not be sent to the pushed authorization request endpoint')

    let params: Record<string, string[]> = {}
    for (const name in form) if (!AUTHENTICATION_PARAMETERS.has(name)) params[name] = form[name]
    const jwt = single(form, 'request')
    if (jwt !== undefined) {
      params = await requestObjectParameters(jwt, client, { keys: app.clientKeys, issuer: publicIssuer(request), policy: app.config.policy.clientKeys })
    }
    params.client_id = [client.id]
    // RFC 9449 §10.1: the proof's key becomes the code's dpop_jkt; "If both mechanisms are used at
    // the same time, the authorization server MUST reject the request if the JWK Thumbprint in
    // dpop_jkt does not match the public key in the DPoP header."
    const proof = await dpopProof(request, ENDPOINTS.pushedAuthorization)
    if (proof) {
      sendDPoPNonce(request, reply)
      const named = params.dpop_jkt
      if (named !== undefined && (named.length !== 1 || named[0] !== proof.jkt)) throw new InvalidDPoPProof('dpop_jkt does not match the key of the DPoP proof')
      params.dpop_jkt = [proof.jkt]
    }
    // FAPI 2.0 Security Profile §5.3.2.2: "shall require the redirect_uri parameter in pushed authorization requests".
    if (client.profile === FAPI2_PROFILE && !params.redirect_uri?.[0]) throw new InvalidRequest('redirect_uri is required in this client\'s pushed authorization requests (FAPI 2.0)')
    try {
      await validateAuthorizationRequest(params, async () => client)
    } catch (err) {
      if (err instanceof AuthorizationPageError) throw new InvalidRequest(err.message)
      if (err instanceof AuthorizationRedirectError) throw err.error
      throw err
    }

    const ttl = app.config.policy.pushedAuthorizationRequests.ttl
    const { requestUri, id } = newRequestReference()
    await app.pushedAuthorizations.create({ id, clientId: client.id, parameters: params, expiresAt: new Date(Date.now() + ttl * 1000) })
    request.log.info({ event: 'authorization_request_pushed', client_id: client.id }, 'authorization request pushed')
    return reply.code(201).send({ request_uri: requestUri, expires_in: ttl })
  })
}
