/**
 * Token introspection (RFC 7662). Anything expired, revoked, consumed, malformed or unknown is
 * `{"active": false}` and nothing more (§2.2).
 *
 * §2.1: "the endpoint MUST also require some form of authorization to access this endpoint":
 * only an authenticated confidential client may ask (a public client_id proves nothing), and
 * §4's token scanning is stopped by answering `active: true` only to a caller entitled to the
 * token — the client it was issued to, or a resource server among its audiences (an audience of
 * the token is one of the caller's registered audiences). Refresh tokens are only introspectable
 * by their client. A token whose user is disabled or whose session ended is inactive, exactly as
 * /userinfo refuses it.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { JWTPayload } from 'jose'
import { InvalidClient, InvalidRequest } from '../../errors.js'
import { ACCESS_TOKEN_TYP, REFRESH_TOKEN_TYP } from '../../domain/tokens.js'
import { minterFor } from '../../http/public_issuer.js'
import type { ClientRecord } from '../../storage/types.js'
import { authenticate, formOf, single } from './params.js'
import { accessTokenHolderActive, liveUser, sessionLive } from './token_subject.js'

const INACTIVE = { active: false }

function describe (claims: JWTPayload, tokenType: string) {
  // RFC 9449 §6.2: a DPoP-bound token is introspected with its `cnf` and token_type DPoP.
  const cnf = claims.cnf && typeof claims.cnf === 'object' ? claims.cnf as { jkt?: unknown } : undefined
  const jkt = typeof cnf?.jkt === 'string' ? cnf.jkt : undefined
  return {
    active: true,
    token_type: jkt && tokenType === 'Bearer' ? 'DPoP' : tokenType,
    ...(jkt ? { cnf: { jkt } } : {}),
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

/** The caller issued the token, or serves one of its audiences. */
function entitled (caller: ClientRecord, claims: JWTPayload): boolean {
  if (claims.client_id === caller.id) return true
  const audience = Array.isArray(claims.aud) ? claims.aud : typeof claims.aud === 'string' ? [claims.aud] : []
  return audience.some((aud) => caller.audiences.includes(aud))
}

export default async function introspectRoute (app: FastifyInstance) {
  app.post('/introspect', { config: { rateLimit: app.rateLimits.token } }, async (request, reply) => {
    const form = formOf(request)
    const { client, method } = await authenticate(request, form, app.clientCache)
    if (method === 'none') throw new InvalidClient('introspection requires an authenticated confidential client')
    const token = single(form, 'token')
    if (!token) throw new InvalidRequest('token is required')
    reply.header('cache-control', 'no-store')

    const minter = minterFor(request)
    const access = await minter.verifyOwn(token, ACCESS_TOKEN_TYP)
    if (access) {
      if (!entitled(client, access) || !await accessTokenHolderActive(app, access)) return INACTIVE
      return describe(access, 'Bearer')
    }
    const refresh = await minter.verifyOwn(token, REFRESH_TOKEN_TYP)
    if (!refresh?.jti) return INACTIVE
    const record = await app.refreshTokens.find(refresh.jti)
    if (!record || record.clientId !== client.id || record.consumedAt || record.revokedAt || record.expiresAt <= new Date()) return INACTIVE
    if (record.userId !== null && !await liveUser(app, record.userId)) return INACTIVE
    if (!await sessionLive(app, record.sessionId)) return INACTIVE
    return describe(refresh, 'refresh_token')
  })
}
