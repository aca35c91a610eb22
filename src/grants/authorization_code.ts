/**
 * RFC 6749 §4.1.3 Access Token Request with an authorization code, RFC 7636 §4.5 PKCE, and
 * OIDC Core §3.1.3 (ID Token in the token response).
 *
 * Every check (client, expiry, redirect_uri, PKCE, session, user) runs before the code is
 * consumed, so a presentation that fails one does not burn the code for the real client. Only then
 * is it consumed, atomically. A second presentation is a replay, which §4.1.2 answers with "the
 * authorization server MUST deny the request and SHOULD revoke (when possible) all tokens
 * previously issued based on that authorization code" — but only when the presenter proved it
 * holds the code legitimately (an authenticated confidential client, or the matching PKCE
 * verifier). Otherwise anyone who saw a public client's code could revoke that client's tokens;
 * such a presentation is just invalid_grant.
 *
 * A code of a session that has ended (logout, sign-out everywhere, password reset) is refused,
 * and so is the exchange when the session ends while it runs (issue 11 item 3).
 *
 * @module
 */
import { InvalidGrant, InvalidRequest } from '../errors.js'
import { hashCode } from '../domain/sso.js'
import { verifyPKCE } from '../domain/pkce.js'
import { userClaims } from '../domain/oidc_claims.js'
import { resolveAudience } from '../domain/scopes.js'
import type { AuthorizationCodeRecord, ClientRecord } from '../storage/types.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant, GrantServices } from './types.js'

export const authorizationCode: Grant = {
  grantType: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier'],
  allowPublicClients: true,
  async handler ({ client, params, resources, dpopJkt }, services) {
    const { code, redirect_uri: redirectUri, code_verifier: verifier } = params
    if (!code) throw new InvalidRequest('code is required')
    const codeHash = hashCode(code)
    const record = await services.codes.find(codeHash)
    // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated
    // confidential client" — checked before consuming, so another client cannot burn the code.
    if (!record || record.clientId !== client.id) throw new InvalidGrant('authorization code is invalid')
    if (record.consumedAt) return replayed(record, client, verifier, services)

    const now = new Date()
    if (record.expiresAt <= now) throw new InvalidGrant('authorization code expired')
    // §4.1.3: redirect_uri is "REQUIRED, if the "redirect_uri" parameter was included in the
    // authorization request", and then "their values MUST be identical". When it was not, a value
    // sent all the same must still be the one the code went to.
    if (record.redirectUriSent ? redirectUri !== record.redirectUri : redirectUri !== undefined && redirectUri !== record.redirectUri) {
      throw new InvalidGrant('redirect_uri does not match the authorization request')
    }
    if (record.codeChallenge) {
      if (!verifier) throw new InvalidGrant('code_verifier is required')
      if (!verifyPKCE(verifier, record.codeChallenge, record.codeChallengeMethod ?? '')) throw new InvalidGrant('code_verifier does not match the code_challenge')
    } else if (verifier !== undefined) {
      // RFC 9700 §2.1.1: reject a verifier when no challenge was sent (PKCE downgrade).
      throw new InvalidGrant('code_verifier sent but no code_challenge was in the authorization request')
    } else if (client.requirePkce) {
      // The client's setting changed after the code was issued: the code is not good enough now.
      throw new InvalidGrant('this client requires PKCE, and the authorization request had no code_challenge')
    }
    // RFC 9449 §10: a code bound with dpop_jkt is only exchanged with a proof of that key.
    if (record.dpopJkt && dpopJkt !== record.dpopJkt) {
      throw new InvalidGrant(dpopJkt ? 'the DPoP key does not match the dpop_jkt of the authorization request' : 'this code is bound to a DPoP key: send a DPoP proof')
    }
    // A plain read here; the locking re-check comes after the refresh token is stored.
    const session = await services.sessions.find(record.sessionId)
    if (!session || session.endedAt) throw new InvalidGrant('the session this code was issued in has ended')
    const user = await services.users.findById(record.userId)
    if (!user || user.disabled) throw new InvalidGrant('the user is no longer active')

    // The presenter passed every check, so losing the race to consume is a proven replay.
    if (!(await services.codes.consume(codeHash, now))) return replayed(record, client, verifier, services, true)

    const scopes = record.scope.split(' ').filter(Boolean)
    const authTime = Math.floor(record.authTime.getTime() / 1000)
    const tokens = await issueTokenPair({
      client,
      sub: user.id,
      userId: user.id,
      scope: record.scope,
      audience: resolveAudience(resources, client.audiences, services.issuer),
      familyId: record.familyId,
      sessionId: record.sessionId,
      authTime,
      acr: record.acr ?? undefined,
      amr: record.amr,
      refresh: scopes.includes('offline_access') || client.grantTypes.includes('refresh_token'),
      jkt: dpopJkt,
    }, services)
    if (tokens.refresh_token) {
      // A replay that lost the race marked the code first, then revoked; a logout that ran while
      // we issued revoked before our token existed. Both are caught by checking after storing it.
      if (await services.codes.wasReused(codeHash)) {
        await services.refreshTokens.revokeFamily(record.familyId, new Date())
        throw new InvalidGrant('authorization code was already used')
      }
      if (await services.sessions.hasEnded(record.sessionId)) {
        await services.refreshTokens.revokeFamily(record.familyId, new Date())
        throw new InvalidGrant('the session this code was issued in has ended')
      }
    }
    if (scopes.includes('openid')) {
      tokens.id_token = await services.minter.idToken({
        sub: user.id,
        clientId: client.id,
        authTime,
        sid: record.sessionId,
        nonce: record.nonce ?? undefined,
        amr: record.amr,
        acr: record.acr ?? undefined,
        accessToken: tokens.access_token,
        claims: userClaims(user, scopes),
      })
    }
    return tokens
  },
}

/**
 * A code presented after it was consumed. Counted as a replay (marked, family revoked, logged)
 * only when the presenter proved possession: a confidential client has authenticated by the time
 * a grant runs; a public client must send the verifier matching the code's challenge.
 */
async function replayed (record: AuthorizationCodeRecord, client: ClientRecord, verifier: string | undefined, services: GrantServices, proven = false): Promise<never> {
  proven ||= !client.public || (record.codeChallenge !== null && verifyPKCE(verifier, record.codeChallenge, record.codeChallengeMethod ?? ''))
  if (!proven) {
    services.log.info({ event: 'authorization_code_replay_unproven', client_id: client.id }, 'used authorization code presented without proof of possession; nothing revoked')
    throw new InvalidGrant('authorization code is invalid')
  }
  const now = new Date()
  // Mark first, then revoke: the winning exchange checks the mark after storing its refresh
  // token, so whichever order the two requests interleave in, the family ends up revoked.
  await services.codes.markReused(record.codeHash, now)
  const revoked = await services.refreshTokens.revokeFamily(record.familyId, now)
  services.log.warn({ event: 'authorization_code_reuse', client_id: client.id, family_id: record.familyId, revoked }, 'authorization code reused; tokens revoked')
  await services.audit.record({ type: 'authorization_code_reuse', actor: client.id, subject: record.familyId, clientId: client.id, detail: { user_id: record.userId, refresh_tokens_revoked: revoked } })
  throw new InvalidGrant('authorization code was already used')
}
