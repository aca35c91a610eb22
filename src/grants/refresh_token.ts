/**
 * RFC 6749 §6 Refreshing an Access Token, with refresh-token rotation (RFC 9700 §4.14.2):
 * every use consumes the token and returns a new one in the same family; presenting a consumed
 * token again revokes the whole family.
 *
 * @module
 */
import { InvalidGrant, InvalidRequest } from '../errors.js'
import { REFRESH_TOKEN_TYP } from '../domain/tokens.js'
import { parseScope, resolveAudience, resolveScope } from '../domain/scopes.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant } from './types.js'

export const refreshToken: Grant = {
  grantType: 'refresh_token',
  parameters: ['refresh_token', 'scope'],
  allowPublicClients: true,
  async handler ({ client, params, resources, ip }, services) {
    if (!params.refresh_token) throw new InvalidRequest('refresh_token is required')
    const claims = await services.minter.verifyOwn(params.refresh_token, REFRESH_TOKEN_TYP)
    if (!claims?.jti || typeof claims.sub !== 'string') throw new InvalidGrant('refresh token is invalid or expired')
    // RFC 6749 §6: "ensure that the refresh token was issued to the authenticated client".
    // Checked before consuming it, so another client cannot burn a stolen token's family.
    if (claims.client_id !== client.id) throw new InvalidGrant('refresh token was issued to another client')
    const record = await services.refreshTokens.findWithUserState(claims.jti)
    if (!record || record.clientId !== client.id) throw new InvalidGrant('refresh token is invalid or expired')
    if (record.revokedAt) throw new InvalidGrant('refresh token was revoked')

    // §6: the new scope "MUST NOT include any scope not originally granted"; the family keeps the original.
    const scope = resolveScope(parseScope(params.scope), record.scope.split(' ').filter(Boolean))
    const audience = resources?.length ? resolveAudience(resources, record.audience, services.issuer) : record.audience
    if (!record.userActive) {
      await services.refreshTokens.revokeFamily(record.familyId, new Date())
      throw new InvalidGrant('the user of this refresh token is no longer active')
    }
    return issueTokenPair({
      client,
      sub: claims.sub,
      userId: record.userId,
      scope,
      audience,
      familyId: record.familyId,
      refresh: true,
      refreshScope: record.scope,
      sessionId: record.sessionId,
      storeRefresh: async (successor) => {
        const now = new Date()
        const result = await services.refreshTokens.rotate(record.jti, { ...successor, audience: record.audience }, now, services.policy.refreshGraceSeconds)
        if (result.outcome === 'rotated') return
        if (result.outcome === 'reused') {
          const revoked = await services.refreshTokens.revokeFamily(record.familyId, now)
          await services.audit.record({
            type: 'refresh_token_reuse', subject: record.familyId, actor: record.userId, clientId: client.id, ip,
            detail: { family_id: record.familyId, tokens_revoked: revoked },
          })
        }
        throw new InvalidGrant('refresh token is invalid, expired or already used')
      },
    }, services)
  },
}
