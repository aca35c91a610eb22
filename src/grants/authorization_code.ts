/**
 * RFC 6749 §4.1.3 Access Token Request with an authorization code, RFC 7636 §4.5 PKCE, and
 * OIDC Core §3.1.3 (ID Token in the token response).
 *
 * The code is consumed atomically before anything is issued; a second presentation fails and
 * revokes the refresh family the first exchange started (§4.1.2: "If an authorization code is used
 * more than once, the authorization server MUST deny the request and SHOULD revoke (when possible)
 * all tokens previously issued based on that authorization code").
 *
 * @module
 */
import { InvalidGrant, InvalidRequest } from '../errors.js'
import { hashCode } from '../domain/sso.js'
import { verifyPKCE } from '../domain/pkce.js'
import { userClaims } from '../domain/oidc_claims.js'
import { resolveAudience } from '../domain/scopes.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant } from './types.js'

export const authorizationCode: Grant = {
  grantType: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier'],
  allowPublicClients: true,
  async handler ({ client, params, resources }, services) {
    const { code, redirect_uri: redirectUri, code_verifier: verifier } = params
    if (!code) throw new InvalidRequest('code is required')
    const codeHash = hashCode(code)
    const record = await services.codes.find(codeHash)
    // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated
    // confidential client" — checked before consuming, so another client cannot burn the code.
    if (!record || record.clientId !== client.id) throw new InvalidGrant('authorization code is invalid')

    const now = new Date()
    if (record.consumedAt || !(await services.codes.consume(codeHash, now))) {
      // Mark first, then revoke: the winning exchange checks the mark after storing its refresh
      // token, so whichever order the two requests interleave in, the family ends up revoked.
      await services.codes.markReused(codeHash, now)
      const revoked = await services.refreshTokens.revokeFamily(record.familyId, now)
      services.log.warn({ event: 'authorization_code_reuse', client_id: client.id, family_id: record.familyId, revoked }, 'authorization code reused; tokens revoked')
      await services.audit.record({ type: 'authorization_code_reuse', actor: client.id, subject: record.familyId, clientId: client.id, detail: { user_id: record.userId, refresh_tokens_revoked: revoked } })
      throw new InvalidGrant('authorization code was already used')
    }
    if (record.expiresAt <= now) throw new InvalidGrant('authorization code expired')
    // §4.1.3: redirect_uri is REQUIRED when it was included in the authorization request, and the
    // values MUST be identical. Stamp always binds the code to one, so it always checks it.
    if (redirectUri !== record.redirectUri) throw new InvalidGrant('redirect_uri does not match the authorization request')
    if (record.codeChallenge) {
      if (!verifier) throw new InvalidGrant('code_verifier is required')
      if (!verifyPKCE(verifier, record.codeChallenge, record.codeChallengeMethod ?? '')) throw new InvalidGrant('code_verifier does not match the code_challenge')
    } else if (verifier !== undefined) {
      // RFC 9700 §2.1.1: reject a verifier when no challenge was sent (PKCE downgrade).
      throw new InvalidGrant('code_verifier sent but no code_challenge was in the authorization request')
    }

    const user = await services.users.findById(record.userId)
    if (!user || user.disabled) throw new InvalidGrant('the user is no longer active')
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
      refresh: scopes.includes('offline_access') || client.grantTypes.includes('refresh_token'),
    }, services)
    if (tokens.refresh_token && await services.codes.wasReused(codeHash)) {
      await services.refreshTokens.revokeFamily(record.familyId, new Date())
      throw new InvalidGrant('authorization code was already used')
    }
    if (scopes.includes('openid')) {
      tokens.id_token = await services.minter.idToken({
        sub: user.id,
        clientId: client.id,
        authTime,
        sid: record.sessionId,
        nonce: record.nonce ?? undefined,
        accessToken: tokens.access_token,
        claims: userClaims(user, scopes),
      })
    }
    return tokens
  },
}
