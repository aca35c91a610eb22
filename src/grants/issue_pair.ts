/**
 * Issues an access token and, when the client may refresh, a refresh token in a family.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { ClientRecord, NewRefreshToken } from '../storage/types.js'
import type { GrantServices, TokenResponse } from './types.js'

export interface PairRequest {
  client: ClientRecord
  sub: string
  userId: string | null
  scope: string
  audience: string[]
  /** The family to start, when chosen beforehand (the authorization code records it, so a replayed code can revoke it). */
  familyId?: string
  refresh: boolean
  /** The SSO session the tokens come from: logout revokes the refresh family through it. */
  sessionId?: string | null
  /** Seconds since the epoch when the user authenticated (access token `auth_time`). */
  authTime?: number
  /** The class the login reached (access token `acr`, RFC 9470 §3). */
  acr?: string
  /** The methods the login used (RFC 8176), kept with the refresh family beside auth_time and acr. */
  amr?: string[]
  /** RFC 9449: the DPoP key thumbprint the access token (and a public client's refresh token, §5) is bound to. */
  jkt?: string
}

export async function issueTokenPair (request: PairRequest, services: GrantServices): Promise<TokenResponse> {
  const now = Date.now()
  const { minter } = services
  const access = minter.accessToken({
    sub: request.sub, clientId: request.client.id, scope: request.scope, audience: request.audience,
    authTime: request.authTime, sid: request.sessionId ?? undefined, acr: request.acr, jkt: request.jkt,
  }, now)
  access.catch(() => {}) // awaited below; this only keeps an early throw from leaving it unhandled
  const response: TokenResponse = { access_token: '', token_type: request.jkt ? 'DPoP' : 'Bearer', expires_in: minter.accessTokenTTL, scope: request.scope }
  if (request.refresh) {
    const jti = randomUUID()
    // A new family: its first token already ends with it (REFRESH_FAMILY_MAX_AGE). Whole seconds,
    // so the stored expiry is the JWT's `exp`.
    const exp = Math.floor(now / 1000) + Math.min(minter.refreshTokenTTL, services.policy.refreshFamilyMaxAge)
    const record: NewRefreshToken = {
      jti,
      familyId: request.familyId ?? randomUUID(),
      userId: request.userId,
      clientId: request.client.id,
      scope: request.scope,
      audience: request.audience,
      kid: minter.currentKid,
      sessionId: request.sessionId ?? null,
      expiresAt: new Date(exp * 1000),
      // The login's facts go with the family, so refreshed access tokens say how the user signed in.
      authTime: request.authTime === undefined ? null : new Date(request.authTime * 1000),
      acr: request.acr ?? null,
      amr: request.amr ?? [],
    }
    // Store before handing the token out: a token the database does not know is useless anyway.
    const [refreshToken] = await Promise.all([
      minter.refreshToken({ jti, sub: request.sub, clientId: request.client.id, scope: record.scope, exp, familyId: record.familyId, jkt: boundRefresh(request), sessionId: record.sessionId ?? undefined }, now),
      services.refreshTokens.create(record),
    ])
    response.refresh_token = refreshToken
  }
  response.access_token = await access
  return response
}

/**
 * RFC 9449 §5: "Refresh tokens issued to public clients MUST be bound to the DPoP key"; a
 * confidential client's are not ("bound to the client's authentication credentials" already).
 */
function boundRefresh (request: PairRequest): string | undefined {
  return request.client.public ? request.jkt : undefined
}
