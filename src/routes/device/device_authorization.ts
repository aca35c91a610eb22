/**
 * RFC 8628 §3.1 Device Authorization Request: a client (confidential ones authenticate as at
 * /token; public ones send their client_id) asks for a device code and a user code; §3.2 the
 * response names where the user goes (`verification_uri`, and `verification_uri_complete` with
 * the code filled in), how long the codes live and how often to poll.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { UnauthorizedClient } from '../../errors.js'
import { DEVICE_CODE_GRANT, formatUserCode, startDeviceAuthorization, verificationURIs } from '../../domain/device_flow.js'
import { parseScope, resolveAudience, resolveScope } from '../../domain/scopes.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { authenticate, formOf, multi, single } from '../oauth/params.js'

export default async function deviceAuthorizationRoute (app: FastifyInstance) {
  app.post(ENDPOINTS.deviceAuthorization, { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const { client } = await authenticate(request, form, app.clientCache)
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) throw new UnauthorizedClient('this client may not use the device authorization grant')
    const issuer = publicIssuer(request)
    const scope = resolveScope(parseScope(single(form, 'scope')), client.scopes)
    const audience = resolveAudience(multi(form, 'resource'), client.audiences, issuer)
    const { deviceCode, userCode, record } = await startDeviceAuthorization(app.deviceAuthorizations, app.config.policy, { client, scope, audience })
    request.log.info({ event: 'device_authorization_started', client_id: client.id, device_authorization: record.id }, 'device authorization started')
    const shown = formatUserCode(userCode)
    const { verificationUri, verificationUriComplete } = verificationURIs(shown, issuer + ENDPOINTS.device, app.config.policy.deviceFlow.verificationUri)
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send({
      device_code: deviceCode,
      user_code: shown,
      verification_uri: verificationUri,
      verification_uri_complete: verificationUriComplete,
      expires_in: app.config.policy.deviceFlow.codeTTL,
      interval: record.interval,
    })
  })
}
