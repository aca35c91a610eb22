/**
 * RFC 8628 §3.4 Device Access Token Request (`urn:ietf:params:oauth:grant-type:device_code`).
 *
 * Each poll is one statement (`DeviceAuthorizationStore.poll`): it records the poll, grows the
 * interval by 5 s when the client polled too early (§3.5 slow_down), and consumes an approval,
 * so the tokens are issued exactly once however many polls race. Then, as for an authorization
 * code: the session the user approved in must still be live and the user enabled; the tokens (an
 * ID token with `openid`, a refresh token when the client refreshes) are the authorization-code
 * grant's.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import {
  AuthorizationPending, DeviceAccessDenied, ExpiredToken, InvalidGrant, InvalidRequest, SlowDown,
} from '../errors.js'
import { DEVICE_CODE_GRANT, sha256 } from '../domain/device_flow.js'
import { userClaims } from '../domain/oidc_claims.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant } from './types.js'

/**
 * Slack on the interval: a client waiting exactly `interval` seconds (openid-client does) must
 * never see slow_down because its request was handled a little faster than the previous one.
 */
const POLL_TOLERANCE_MS = 500

export const deviceCode: Grant = {
  grantType: DEVICE_CODE_GRANT,
  parameters: ['device_code'],
  // §3.4: public clients poll with their client_id, as native and input-constrained apps are.
  allowPublicClients: true,
  async handler ({ client, params }, services) {
    if (!params.device_code) throw new InvalidRequest('device_code is required')
    const now = new Date()
    const tolerance = Math.min(POLL_TOLERANCE_MS, services.policy.deviceFlow.interval * 250)
    const poll = await services.devices.poll(sha256(params.device_code), client.id, now, tolerance)
    // Also a device code of another client: its own client's polls must not be disturbed.
    if (!poll) throw new InvalidGrant('device code is invalid')
    const { record, previousStatus, tooFast } = poll
    if (previousStatus === 'consumed') throw new InvalidGrant('device code was already used')
    if (previousStatus === 'denied') throw new DeviceAccessDenied('the user denied the request')
    if (record.expiresAt <= now) throw new ExpiredToken('the device code has expired; start again')
    if (tooFast) throw new SlowDown(`polling too fast: wait ${record.interval} seconds between requests`)
    if (previousStatus === 'pending') throw new AuthorizationPending('the user has not approved the request yet')

    // This poll consumed the approval.
    const session = record.sessionId ? await services.sessions.find(record.sessionId) : null
    if (!session || session.endedAt) throw new InvalidGrant('the session the request was approved in has ended')
    const user = record.userId ? await services.users.findById(record.userId) : null
    if (!user || user.disabled) throw new InvalidGrant('the user is no longer active')
    const scopes = record.scope.split(' ').filter(Boolean)
    const authTime = Math.floor((record.authTime ?? session.authTime).getTime() / 1000)
    const familyId = randomUUID()
    const tokens = await issueTokenPair({
      client,
      sub: user.id,
      userId: user.id,
      scope: record.scope,
      audience: record.audience,
      familyId,
      sessionId: session.id,
      authTime,
      acr: session.acr ?? undefined,
      amr: session.amr,
      refresh: scopes.includes('offline_access') || client.grantTypes.includes('refresh_token'),
    }, services)
    // A logout that ran while we issued revoked the session's families before ours existed.
    if (tokens.refresh_token && await services.sessions.hasEnded(session.id)) {
      await services.refreshTokens.revokeFamily(familyId, new Date())
      throw new InvalidGrant('the session the request was approved in has ended')
    }
    if (scopes.includes('openid')) {
      tokens.id_token = await services.minter.idToken({
        sub: user.id, clientId: client.id, authTime, sid: session.id, accessToken: tokens.access_token, claims: userClaims(user, scopes),
      })
    }
    return tokens
  },
}
