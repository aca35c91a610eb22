/**
 * Token endpoint (RFC 6749 §3.2), as a pipeline: authenticate the client, reject repeated
 * parameters, check the grant is served and allowed for this client, keep only the parameters
 * the grant declared, and call its handler.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidDPoPProof, InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from '../../errors.js'
import { grantsByType } from '../../grants/index.js'
import { grantServicesFor } from '../../http/public_issuer.js'
import { authenticate, formOf, multi, single } from './params.js'
import { dpopProof, sendDPoPNonce } from './dpop_proof.js'
import { ENDPOINTS } from '../well_known/discovery.js'

export default async function tokenRoute (app: FastifyInstance) {
  app.post('/token', { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const grantType = single(form, 'grant_type')
    if (!grantType) throw new InvalidRequest('grant_type is required')
    const { client, method } = await authenticate(request, form, app.clientCache)
    const grant = grantsByType.get(grantType)
    if (!grant) throw new UnsupportedGrantType(`grant_type ${grantType} is not supported`)
    if (!client.grantTypes.includes(grantType)) throw new UnauthorizedClient(`this client may not use ${grantType}`)
    if (method === 'none' && !grant.allowPublicClients) throw new UnauthorizedClient(`${grantType} requires a confidential client`)

    // RFC 9449 §5: a valid proof binds the tokens to its key; §5.2 dpop_bound_access_tokens
    // makes one mandatory for this client.
    const proof = await dpopProof(request, ENDPOINTS.token)
    if (!proof && client.dpopBoundAccessTokens) throw new InvalidDPoPProof('this client must send a DPoP proof (dpop_bound_access_tokens)')
    if (proof) sendDPoPNonce(request, reply)

    const params: Record<string, string | undefined> = {}
    for (const name of grant.parameters) params[name] = single(form, name)
    const tokens = await grant.handler({ client, params, resources: multi(form, 'resource'), ip: request.ip, dpopJkt: proof?.jkt }, grantServicesFor(request))
    app.clientUsage.used(client, request.ip)
    request.log.info({ grant_type: grantType, client_id: client.id }, 'tokens issued')
    app.metrics.tokensIssued.inc({ grant_type: grantType })
    // RFC 6749 §5.1: "Cache-Control: no-store" and "Pragma: no-cache".
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(tokens)
  })
}
