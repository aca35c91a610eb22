/**
 * UserInfo endpoint (OIDC Core §5.3), GET and POST. The bearer token (RFC 6750 §2.1 header, or
 * §2.2 form body on POST) must be one of Stamp's own RFC 9068 access tokens (`typ` at+jwt, signed
 * by a published key) carrying the `openid` scope; its `sid`, when present, must still be a live
 * session, so logout also ends userinfo access. Errors carry `WWW-Authenticate` (RFC 6750 §3).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InsufficientScope, InvalidRequest, InvalidToken, type OAuthError } from '../../errors.js'
import { ACCESS_TOKEN_TYP } from '../../domain/tokens.js'
import { userClaims } from '../../domain/oidc_claims.js'
import { minterFor } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { field } from './login.js'
import { isClientToken, liveUser, sessionLive } from './token_subject.js'

const REALM = 'stamp'

function challenge (error: string, description: string, extra = ''): Record<string, string> {
  return { 'WWW-Authenticate': `Bearer realm="${REALM}", error="${error}", error_description="${description}"${extra}` }
}

function invalidToken (description: string): OAuthError {
  return new InvalidToken(description, { headers: challenge('invalid_token', description) })
}

export default async function userinfoRoute (app: FastifyInstance) {
  if (app.rateLimits.userinfo) app.addHook('onRequest', app.rateLimit(app.rateLimits.userinfo))
  async function userinfo (request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization
    const bodyToken = request.method === 'POST' ? field(request.body, 'access_token') : undefined
    if (header !== undefined && bodyToken !== undefined) {
      // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
      throw new InvalidRequest('send the access token in one place only', { headers: challenge('invalid_request', 'more than one token') })
    }
    let token = bodyToken
    if (header !== undefined) {
      const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim())
      if (!match) throw new InvalidRequest('malformed Authorization header', { headers: challenge('invalid_request', 'malformed Authorization header') })
      token = match[1]
    }
    if (!token) {
      // RFC 6750 §3.1: no authentication information, so no error code.
      return reply.code(401).header('www-authenticate', `Bearer realm="${REALM}"`).header('cache-control', 'no-store').send()
    }

    const claims = await minterFor(request).verifyOwn(token, ACCESS_TOKEN_TYP)
    if (!claims || typeof claims.sub !== 'string') throw invalidToken('the access token is invalid or expired')
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : []
    if (!scopes.includes('openid')) {
      throw new InsufficientScope('the access token lacks the openid scope', { headers: challenge('insufficient_scope', 'the openid scope is required', ', scope="openid"') })
    }
    // A client_credentials token speaks for its client, never for a user (even one whose id it shares).
    if (isClientToken(claims)) throw invalidToken('the access token was issued to a client, not for a user')
    const user = await liveUser(app, claims.sub)
    if (!user) throw invalidToken('the user is no longer active')
    if (!await sessionLive(app, claims.sid)) throw invalidToken('the session of this token has ended')
    return reply.header('cache-control', 'no-store').send({ sub: user.id, ...userClaims(user, scopes) })
  }

  app.get(ENDPOINTS.userinfo, userinfo)
  app.post(ENDPOINTS.userinfo, userinfo)
}
