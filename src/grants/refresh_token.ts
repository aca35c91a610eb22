/**
 * RFC 6749 §6 Refreshing an Access Token, with refresh-token rotation (RFC 9700 §4.14.2):
 * every use consumes the token and returns a new one in the same family; presenting a consumed
 * token again revokes the whole family.
 *
 * The hot path is one SQL statement (`RefreshTokenStore.exchange`): everything that can be
 * checked without the database is checked first, so that nothing is consumed for a request that
 * is then refused.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { InvalidGrant, InvalidRequest } from '../errors.js'
import { REFRESH_TOKEN_TYP } from '../domain/tokens.js'
import { parseScope, resolveAudience, resolveScope } from '../domain/scopes.js'
import type { RefreshTokenRecord } from '../storage/types.js'
import type { Grant, GrantServices } from './types.js'
import { refusePurgedRefreshToken } from './purged_refresh_token.js'

export const refreshToken: Grant = {
  grantType: 'refresh_token',
  parameters: ['refresh_token', 'scope'],
  allowPublicClients: true,
  async handler ({ client, params, resources, ip }, services) {
    if (!params.refresh_token) throw new InvalidRequest('refresh_token is required')
    const { minter } = services
    const claims = await minter.verifyOwn(params.refresh_token, REFRESH_TOKEN_TYP)
    if (!claims?.jti || typeof claims.sub !== 'string' || typeof claims.scope !== 'string') {
      throw new InvalidGrant('refresh token is invalid or expired')
    }
    // RFC 6749 §6: "ensure that the refresh token was issued to the authenticated client".
    // Checked before consuming it, so another client cannot burn a stolen token's family.
    if (claims.client_id !== client.id) throw new InvalidGrant('refresh token was issued to another client')
    // §6: the new scope "MUST NOT include any scope not originally granted". The signed `scope`
    // claim is the family's scope (the family keeps it; a narrower request only narrows the
    // access token), so an invalid_scope is answered before anything is consumed.
    const familyScope = claims.scope
    const scope = resolveScope(parseScope(params.scope), familyScope.split(' ').filter(Boolean))
    if (resources?.some((r) => r.includes('#'))) throw new InvalidRequest('resource must not contain a fragment')

    const now = new Date()
    const successor = { jti: randomUUID(), kid: minter.currentKid, expiresAt: new Date(now.getTime() + minter.refreshTokenTTL * 1000) }
    // Signed while the statement runs: every claim of the successor is known already.
    const familyId = typeof claims.fid === 'string' ? claims.fid : undefined
    const nextRefreshToken = minter.refreshToken({ jti: successor.jti, sub: claims.sub, clientId: client.id, scope: familyScope, familyId }, now.getTime())
    nextRefreshToken.catch(() => {}) // awaited below; this only keeps a refusal from leaving it unhandled

    const exchanged = await services.refreshTokens.exchange({ jti: claims.jti, clientId: client.id, resources, successor, now })
    if (!exchanged) await refusePurgedRefreshToken(claims, client.id, services, ip, now)
    if (!exchanged || exchanged.record.clientId !== client.id) throw new InvalidGrant('refresh token is invalid or expired')
    const { record } = exchanged
    if (record.revokedAt) throw new InvalidGrant('refresh token was revoked')
    const audience = resources?.length ? resolveAudience(resources, record.audience, services.issuer) : record.audience
    if (!record.userActive) {
      await services.refreshTokens.revokeFamily(record.familyId, now)
      throw new InvalidGrant('the user of this refresh token is no longer active')
    }
    if (!exchanged.rotated) await rotateUnderLock(record, successor, now, services, ip)

    const accessToken = await minter.accessToken({ sub: claims.sub, clientId: client.id, scope, audience, sid: record.sessionId ?? undefined }, now.getTime())
    // A token from before `fid` existed: its successor is signed again, naming the family.
    const refreshTokenOut = familyId ? nextRefreshToken : minter.refreshToken({ jti: successor.jti, sub: claims.sub, clientId: client.id, scope: familyScope, familyId: record.familyId }, now.getTime())
    return { access_token: accessToken, token_type: 'Bearer', expires_in: minter.accessTokenTTL, scope, refresh_token: await refreshTokenOut }
  },
}

/**
 * The token was not live when the statement ran: already consumed (a replay, or a concurrent
 * retry inside the grace window) or consumed by a request that raced ours. `rotate` decides under
 * the row lock; reuse revokes the whole family (RFC 9700 §4.14.2).
 */
async function rotateUnderLock (
  record: RefreshTokenRecord, successor: { jti: string, kid: string, expiresAt: Date }, now: Date, services: GrantServices, ip: string,
): Promise<void> {
  const result = await services.refreshTokens.rotate(record.jti, {
    ...successor, familyId: record.familyId, userId: record.userId, clientId: record.clientId, scope: record.scope,
    audience: record.audience, sessionId: record.sessionId,
  }, now, services.policy.refreshGraceSeconds)
  if (result.outcome === 'rotated') return
  if (result.outcome === 'reused') {
    const revoked = await services.refreshTokens.revokeFamily(record.familyId, now)
    await services.audit.record({
      type: 'refresh_token_reuse', subject: record.familyId, actor: record.userId, clientId: record.clientId, ip,
      detail: { family_id: record.familyId, tokens_revoked: revoked },
    })
  }
  throw new InvalidGrant('refresh token is invalid, expired or already used')
}
