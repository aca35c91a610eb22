/**
 * UserInfo endpoint (OIDC Core §5.3), GET and POST. The bearer token (RFC 6750 §2.1 header, or
 * §2.2 form body on POST) must be one of Stamp's own RFC 9068 access tokens (`typ` at+jwt, signed
 * by a published key) carrying the `openid` scope; its `sid`, when present, must still be a live
 * session, so logout also ends userinfo access. Errors carry `WWW-Authenticate` (RFC 6750 §3).
 *
 * DPoP (RFC 9449 §7): a DPoP-bound token (`cnf.jkt`) comes as `Authorization: DPoP <token>` with
 * a proof of its key for this request (`htm`, `htu`, `ath`); presented as a bearer token it is
 * refused. Both challenges are offered (§7.1: `Bearer …, DPoP algs="…"`), and with server nonces
 * on, a proof without the current nonce gets `use_dpop_nonce` and a `DPoP-Nonce` header (§9).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InsufficientScope, InvalidDPoPProof, InvalidRequest, InvalidToken, OAuthError } from '../../errors.js'
import { ACCESS_TOKEN_TYP } from '../../domain/tokens.js'
import { userClaims } from '../../domain/oidc_claims.js'
import { minterFor } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { field } from './login.js'
import { isClientToken, liveUser, sessionLive } from './token_subject.js'
import { dpopProof, sendDPoPNonce } from './dpop_proof.js'

const REALM = 'stamp'
let dpopChallenge = ''

function challenge (error: string, description: string, extra = '', scheme = 'Bearer'): Record<string, string> {
  const params = `error="${error}", error_description="${description}"${extra}`
  // RFC 9449 §7.1: a resource accepting both schemes offers both; the error goes with the scheme used.
  return {
    'WWW-Authenticate': scheme === 'DPoP'
      ? `Bearer realm="${REALM}", DPoP ${dpopChallenge}, ${params}`
      : `Bearer realm="${REALM}", ${params}, DPoP ${dpopChallenge}`,
  }
}

/** A proof problem at a resource: 401 (RFC 9449 §7.1), where /token answers 400. */
function proofRefused (err: OAuthError): OAuthError {
  return new OAuthError(err.error, 401, err.description, { headers: { ...err.headers, ...challenge(err.error, err.description, '', 'DPoP') } })
}

function invalidToken (description: string): OAuthError {
  return new InvalidToken(description, { headers: challenge('invalid_token', description) })
}

export default async function userinfoRoute (app: FastifyInstance) {
  dpopChallenge = `algs="${app.dpop.algorithms.join(' ')}"`
  if (app.rateLimits.userinfo) app.addHook('onRequest', app.rateLimit(app.rateLimits.userinfo))
  async function userinfo (request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization
    const bodyToken = request.method === 'POST' ? field(request.body, 'access_token') : undefined
    if (header !== undefined && bodyToken !== undefined) {
      // RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token in each request."
      throw new InvalidRequest('send the access token in one place only', { headers: challenge('invalid_request', 'more than one token') })
    }
    let token = bodyToken
    let scheme = 'Bearer'
    if (header !== undefined) {
      const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim())
      if (!match) throw new InvalidRequest('malformed Authorization header', { headers: challenge('invalid_request', 'malformed Authorization header') })
      scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
      token = match[2]
    }
    if (!token) {
      // RFC 6750 §3.1: no authentication information, so no error code.
      return reply.code(401).header('www-authenticate', `Bearer realm="${REALM}", DPoP ${dpopChallenge}`).header('cache-control', 'no-store').send()
    }

    const claims = await minterFor(request).verifyOwn(token, ACCESS_TOKEN_TYP)
    if (!claims || typeof claims.sub !== 'string') throw invalidToken('the access token is invalid or expired')
    const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt
    if (scheme === 'DPoP') {
      // RFC 9449 §7.1: the proof is for this request and this token, by the key it is bound to.
      if (typeof jkt !== 'string') throw invalidToken('the access token is not DPoP-bound: send it as a Bearer token')
      let proof
      try {
        proof = await dpopProof(request, ENDPOINTS.userinfo, token)
        if (!proof) throw new InvalidDPoPProof('a DPoP proof is required with a DPoP access token')
        if (proof.jkt !== jkt) throw new InvalidDPoPProof('the DPoP proof is signed by another key than the token is bound to')
      } catch (err) {
        if (err instanceof OAuthError) throw proofRefused(err)
        throw err
      }
      sendDPoPNonce(request, reply)
    } else if (jkt !== undefined) {
      // §7.2: a DPoP-bound token is never accepted as a bearer token.
      throw invalidToken('the access token is DPoP-bound: present it with the DPoP scheme and a proof')
    }
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
