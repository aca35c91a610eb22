/**
 * RFC 6749 §6 Refreshing an Access Token, with refresh-token rotation (RFC 9700 §4.14.2):
 * every use consumes the token and returns a new one in the same family; presenting a consumed
 * token again revokes the whole family.
 *
 * The hot path is one SQL statement (`RefreshTokenStore.exchange`): everything that can be
 * checked without the database is checked first, so that nothing is consumed for a request that
 * is then refused. The statement also narrows the family's scope to what the client, the user and
 * (third-party clients) the consent hold now, refuses disabled users and clients and ended
 * sessions (logout, sign-out everywhere, password reset), and ends the family
 * REFRESH_FAMILY_MAX_AGE after its login.
 *
 * Crash-safe retries: the consumed row names its successor. The same client presenting the same
 * token again within REFRESH_RETRY_SECONDS (its answer was lost, or the instance died after the
 * commit) gets that successor again, signed from the same claims (the same string with RS256 while
 * the key is the same), so a family never has two live tokens and a retry is never reuse. Once the
 * successor was used, presenting the old token is reuse.
 *
 * Without rotation (the client's `refreshTokenRotation: false`; the fapi2 profile's default, FAPI
 * 2.0 Security Profile §5.3.2.1) the token is checked the same way (`RefreshTokenStore.use`: the
 * same facts, nothing consumed) and handed back unchanged, as node-oidc-provider does with
 * `rotateRefreshToken: false`; a privilege taken away still ends or narrows the family.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { InvalidGrant, InvalidRequest } from '../errors.js'
import { REFRESH_TOKEN_TYP } from '../domain/tokens.js'
import { parseScope, resolveAudience, resolveScope, USER_BASELINE_SCOPES } from '../domain/scopes.js'
import { rotatesRefreshTokens } from '../domain/clients.js'
import type { RefreshExchangeResult, RefreshTokenRecord } from '../storage/types.js'
import type { Grant, GrantServices } from './types.js'
import { refusePurgedRefreshToken } from './purged_refresh_token.js'

export const refreshToken: Grant = {
  grantType: 'refresh_token',
  parameters: ['refresh_token', 'scope'],
  allowPublicClients: true,
  async handler ({ client, params, resources, ip, dpopJkt }, services) {
    if (!params.refresh_token) throw new InvalidRequest('refresh_token is required')
    const { minter, policy } = services
    const claims = await minter.verifyOwn(params.refresh_token, REFRESH_TOKEN_TYP)
    if (!claims?.jti || typeof claims.sub !== 'string' || typeof claims.scope !== 'string') {
      throw new InvalidGrant('refresh token is invalid or expired')
    }
    // RFC 6749 §6: "ensure that the refresh token was issued to the authenticated client".
    // Checked before consuming it, so another client cannot burn a stolen token's family.
    if (claims.client_id !== client.id) throw new InvalidGrant('refresh token was issued to another client')
    // RFC 9449 §5: a bound refresh token (a public client's, issued with DPoP) is only good with a
    // proof of the same key; its successors stay bound to it.
    const boundJkt = boundKey(claims.cnf)
    if (boundJkt !== undefined && dpopJkt !== boundJkt) {
      throw new InvalidGrant(dpopJkt ? 'the refresh token is bound to another DPoP key' : 'the refresh token is bound to a DPoP key: send a DPoP proof')
    }
    // §6: the new scope "MUST NOT include any scope not originally granted". The signed `scope`
    // claim is the family's scope (the family keeps it; a narrower request only narrows the
    // access token), so an invalid_scope is answered before anything is consumed.
    const requested = parseScope(params.scope)
    resolveScope(requested, claims.scope.split(' ').filter(Boolean))
    if (resources?.some((r) => r.includes('#'))) throw new InvalidRequest('resource must not contain a fragment')

    const now = new Date()
    const sub = claims.sub
    if (!rotatesRefreshTokens(client)) {
      const used = await services.refreshTokens.use({ jti: claims.jti, clientId: client.id, now, familyMaxAge: policy.refreshFamilyMaxAge, userBaselineScopes: USER_BASELINE_SCOPES })
      // A token consumed before the client stopped rotating: the rotation rules (retry or reuse) apply to it.
      if (!used?.record.consumedAt) {
        if (!used) await refusePurgedRefreshToken(claims, client.id, services, ip, now)
        if (!used || used.record.clientId !== client.id || used.record.expiresAt <= now) throw new InvalidGrant('refresh token is invalid or expired')
        if (used.record.revokedAt) throw new InvalidGrant('refresh token was revoked')
        const audience = resources?.length ? resolveAudience(resources, used.record.audience, services.issuer) : used.record.audience
        await refuseLostPrivilege(used, services, now)
        const allowed = used.grantedScope.split(' ').filter(Boolean)
        const scope = requested === undefined ? used.grantedScope : requested.filter((s) => allowed.includes(s)).join(' ')
        // How the user authenticated for this family (stored at issue), as with rotation below.
        const authTime = used.record.authTime ? Math.floor(used.record.authTime.getTime() / 1000) : undefined
        const accessToken = await minter.accessToken({ sub, clientId: client.id, scope, audience, sid: used.record.sessionId ?? undefined, jkt: dpopJkt, authTime, acr: used.record.acr ?? undefined }, now.getTime())
        // RFC 6749 §6: "The authorization server MAY issue a new refresh token"; here the same one.
        return { access_token: accessToken, token_type: dpopJkt ? 'DPoP' : 'Bearer', expires_in: minter.accessTokenTTL, scope, refresh_token: params.refresh_token }
      }
    }
    const iat = Math.floor(now.getTime() / 1000)
    // Whole seconds: the stored expiry is the JWT's `exp`, so a retry can sign the same token again.
    const successor = { jti: randomUUID(), kid: minter.currentKid, expiresAt: new Date((iat + minter.refreshTokenTTL) * 1000) }
    // Signed while the statement runs, optimistically with the presented scope and the full
    // lifetime; signed again below in the rare case the statement narrowed or capped them.
    // `fid` names the family, so a replay still revokes it after retention deleted this token's row.
    const familyId = typeof claims.fid === 'string' ? claims.fid : undefined
    // `sid` names the session, so the statement checks a session only for a token that has one.
    const sessionId = typeof claims.sid === 'string' ? claims.sid : undefined
    let nextRefreshToken = minter.refreshToken({ jti: successor.jti, sub, clientId: client.id, scope: claims.scope, familyId, jkt: boundJkt, sessionId }, now.getTime())
    nextRefreshToken.catch(() => {}) // awaited below; this only keeps a refusal from leaving it unhandled

    const presentedScope = claims.scope
    const exchange = () => services.refreshTokens.exchange({
      jti: claims.jti!, clientId: client.id, resources, successor, now, familyMaxAge: policy.refreshFamilyMaxAge, userBaselineScopes: USER_BASELINE_SCOPES,
      firstParty: client.firstParty, presented: { scope: presentedScope, subject: sub, sessionId },
    })
    let exchanged = await exchange()
    // The snapshot showed a usable token, yet it did not rotate: a concurrent request consumed (or
    // revoked) it first. The statement again reads the committed state (and its successor).
    if (exchanged && !exchanged.rotated && usable(exchanged, now)) exchanged = await exchange()
    if (!exchanged) await refusePurgedRefreshToken(claims, client.id, services, ip, now)
    if (!exchanged || exchanged.record.clientId !== client.id) throw new InvalidGrant('refresh token is invalid or expired')
    const { record } = exchanged
    if (record.revokedAt) throw new InvalidGrant('refresh token was revoked')
    const audience = resources?.length ? resolveAudience(resources, record.audience, services.issuer) : record.audience
    await refuseLostPrivilege(exchanged, services, now)

    let familyScope: string
    if (exchanged.rotated) {
      const issued = exchanged.issued!
      familyScope = issued.scope
      // Narrowed or capped, or a token from before `fid` or `sid` existed: the successor is signed
      // again, with what was stored and naming its family and session.
      if (issued.scope !== claims.scope || issued.expiresAt.getTime() !== successor.expiresAt.getTime() || !familyId || (record.sessionId ?? undefined) !== sessionId) {
        nextRefreshToken = minter.refreshToken({ jti: successor.jti, sub, clientId: client.id, scope: issued.scope, exp: issued.expiresAt.getTime() / 1000, familyId: record.familyId, jkt: boundJkt, sessionId: record.sessionId ?? undefined }, now.getTime())
      }
    } else {
      const retry = retriedSuccessor(exchanged, now, policy.refreshRetrySeconds)
      if (!retry) return reuse(record, now, services, ip)
      familyScope = retry.scope
      // The very claims the consumption signed: iat is the consumption's time, exp the stored expiry.
      nextRefreshToken = minter.refreshToken({ jti: retry.jti, sub, clientId: client.id, scope: retry.scope, exp: retry.expiresAt.getTime() / 1000, familyId: record.familyId, jkt: boundJkt, sessionId: record.sessionId ?? undefined }, record.consumedAt!.getTime())
      services.log.info({ family_id: record.familyId, client_id: client.id }, 'refresh retried: the successor was handed out again')
    }

    const allowed = familyScope.split(' ').filter(Boolean)
    const scope = requested === undefined ? familyScope : requested.filter((s) => allowed.includes(s)).join(' ')
    // How the user authenticated for this family, as stored with it (immutable, copied to each
    // successor): OIDC Core §12.2 keeps auth_time the original authentication's, and a retry reads
    // the same row, so it answers with the same claims.
    const authTime = record.authTime ? Math.floor(record.authTime.getTime() / 1000) : undefined
    const accessToken = await minter.accessToken({ sub, clientId: client.id, scope, audience, sid: record.sessionId ?? undefined, jkt: dpopJkt, authTime, acr: record.acr ?? undefined }, now.getTime())
    return { access_token: accessToken, token_type: dpopJkt ? 'DPoP' : 'Bearer', expires_in: minter.accessTokenTTL, scope, refresh_token: await nextRefreshToken }
  },
}

/**
 * A privilege taken away behind the admin API's back (or it raced the refresh), or the
 * login ended: the family cannot be used any more, so it goes. A family past its maximum age is
 * merely refused.
 */
async function refuseLostPrivilege ({ record, clientActive, sessionActive, grantedScope, familyEnded }: RefreshExchangeResult, services: GrantServices, now: Date): Promise<void> {
  if (!record.userActive || !clientActive || !sessionActive || (grantedScope === '' && record.scope !== '')) {
    await services.refreshTokens.revokeFamily(record.familyId, now)
    throw new InvalidGrant(!record.userActive
      ? 'the user of this refresh token is no longer active'
      : !clientActive ? 'the client of this refresh token is disabled'
        : !sessionActive ? 'the session this refresh token was issued in has ended'
          : 'nothing of this refresh token\'s scope is granted any more')
  }
  if (familyEnded) throw new InvalidGrant('the refresh token\'s login is too old: sign in again')
}

/** What the statement itself checks, as its snapshot saw it. */
function usable ({ record, clientActive, sessionActive, grantedScope, familyEnded }: RefreshExchangeResult, now: Date): boolean {
  return record.consumedAt === null && record.revokedAt === null && record.expiresAt > now && record.userActive && clientActive && sessionActive &&
    (grantedScope !== '' || record.scope === '') && !familyEnded
}

/** The successor to hand out again: consumed within the retry window, and its successor still unused. */
function retriedSuccessor ({ record, successor }: RefreshExchangeResult, now: Date, retrySeconds: number) {
  if (!record.consumedAt || !successor?.live || retrySeconds <= 0) return null
  return now.getTime() - record.consumedAt.getTime() <= retrySeconds * 1000 ? successor : null
}

/**
 * Presented although consumed, and not a retry: reuse revokes the whole family (RFC 9700
 * §4.14.2). An expired, never consumed token is merely invalid.
 */
async function reuse (record: RefreshTokenRecord, now: Date, services: GrantServices, ip: string): Promise<never> {
  if (record.consumedAt) {
    const revoked = await services.refreshTokens.revokeFamily(record.familyId, now)
    await services.audit.record({
      type: 'refresh_token_reuse', subject: record.familyId, actor: record.userId, clientId: record.clientId, ip,
      detail: { family_id: record.familyId, tokens_revoked: revoked },
    })
  }
  throw new InvalidGrant('refresh token is invalid, expired or already used')
}

/** The `cnf.jkt` of a refresh token Stamp signed, when it has one. */
function boundKey (cnf: unknown): string | undefined {
  const jkt = cnf && typeof cnf === 'object' ? (cnf as { jkt?: unknown }).jkt : undefined
  return typeof jkt === 'string' ? jkt : undefined
}
