/**
 * Token introspection (RFC 7662). Anything expired, revoked, consumed, malformed or unknown is
 * `{"active": false}` and nothing more (§2.2). Refresh tokens are only introspectable by the
 * client they were issued to.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { JWTPayload } from 'jose'
import { InvalidRequest } from '../../errors.js'
import { ACCESS_TOKEN_TYP, REFRESH_TOKEN_TYP } from '../../domain/tokens.js'
import { minterFor } from '../../http/public_issuer.js'
import { authenticate, formOf, single } from './params.js'

const INACTIVE = { active: false }

function describe (claims: JWTPayload, tokenType: string) {
  return {
    active: true,
    token_type: tokenType,
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
  }
}

export default async function introspectRoute (app: FastifyInstance) {
  app.post('/introspect', { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const { client } = await authenticate(request, form, app.clientCache)
    const token = single(form, 'token')
    if (!token) throw new InvalidRequest('token is required')
    reply.header('cache-control', 'no-store')

    const minter = minterFor(request)
    const access = await minter.verifyOwn(token, ACCESS_TOKEN_TYP)
    if (access) return describe(access, 'Bearer')
    const refresh = await minter.verifyOwn(token, REFRESH_TOKEN_TYP)
    if (!refresh?.jti) return INACTIVE
    const record = await app.refreshTokens.find(refresh.jti)
    if (!record || record.clientId !== client.id || record.consumedAt || record.revokedAt || record.expiresAt <= new Date()) return INACTIVE
    return describe(refresh, 'refresh_token')
  })
}
