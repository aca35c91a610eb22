/**
 * Token revocation (RFC 7009). Revoking a refresh token revokes its whole family. Access tokens
 * are self-contained JWTs verified offline, so they cannot be recalled; they expire within
 * ACCESS_TOKEN_TTL. Per §2.2, an invalid or unknown token is not an error.
 *
 * §2.1: the server "verifies whether the token was issued to the client making the revocation
 * request. If this validation fails, the request is refused and the client is informed of the
 * error": another client's token is `invalid_grant` (RFC 6749 §5.2: "was issued to another
 * client"), and nothing is revoked.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidGrant, InvalidRequest } from '../../errors.js'
import { ACCESS_TOKEN_TYP, REFRESH_TOKEN_TYP } from '../../domain/tokens.js'
import { minterFor } from '../../http/public_issuer.js'
import { authenticate, formOf, single } from './params.js'

const NOT_YOURS = 'the token was issued to another client'

export default async function revokeRoute (app: FastifyInstance) {
  app.post('/revoke', { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const { client } = await authenticate(request, form, app.clientCache)
    const token = single(form, 'token')
    if (!token) throw new InvalidRequest('token is required')
    reply.header('cache-control', 'no-store')
    const minter = minterFor(request)
    const claims = await minter.verifyOwn(token, REFRESH_TOKEN_TYP)
    if (claims?.jti) {
      const record = await app.refreshTokens.find(claims.jti)
      if (record && record.clientId !== client.id) throw new InvalidGrant(NOT_YOURS, { detail: `client ${client.id} tried to revoke a token of ${record.clientId}` })
      if (record) {
        const revoked = await app.refreshTokens.revokeFamily(record.familyId, new Date())
        request.log.info({ event: 'refresh_family_revoked', family_id: record.familyId, client_id: client.id, revoked }, 'refresh token revoked')
      }
      return reply.send()
    }
    const access = await minter.verifyOwn(token, ACCESS_TOKEN_TYP)
    if (access && access.client_id !== client.id) throw new InvalidGrant(NOT_YOURS)
    return reply.send()
  })
}
