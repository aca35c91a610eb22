/**
 * Token revocation (RFC 7009). Revoking a refresh token revokes its whole family. Access tokens
 * are self-contained JWTs verified offline, so they cannot be recalled; they expire within
 * ACCESS_TOKEN_TTL. Per §2.2, an invalid or unknown token is not an error.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidRequest } from '../../errors.js'
import { REFRESH_TOKEN_TYP } from '../../domain/tokens.js'
import { minterFor } from '../../http/public_issuer.js'
import { authenticate, formOf, single } from './params.js'

export default async function revokeRoute (app: FastifyInstance) {
  app.post('/revoke', { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const { client } = await authenticate(request, form, app.clientCache)
    const token = single(form, 'token')
    if (!token) throw new InvalidRequest('token is required')
    const claims = await minterFor(request).verifyOwn(token, REFRESH_TOKEN_TYP)
    if (claims?.jti) {
      const record = await app.refreshTokens.find(claims.jti)
      // §2.1: the server "verifies whether the token was issued to the client making the revocation request".
      if (record && record.clientId === client.id) {
        const revoked = await app.refreshTokens.revokeFamily(record.familyId, new Date())
        request.log.info({ event: 'refresh_family_revoked', family_id: record.familyId, client_id: client.id, revoked }, 'refresh token revoked')
      }
    }
    return reply.header('cache-control', 'no-store').send()
  })
}
