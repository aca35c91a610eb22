/**
 * A refresh token that verifies (Stamp signed it, it has not expired) but whose row is gone:
 * retention deleted it some time after it was consumed or revoked. Presenting it is a replay, so
 * it is refused, and RFC 9700 §4.14.2 applies as if the row were there: "If a refresh token is
 * compromised and subsequently used by both the attacker and the legitimate client, one of them
 * will present an invalidated refresh token, which will inform the authorization server of the
 * breach" — the family it names in its `fid` claim is revoked when it still has a live token.
 *
 * A family with nothing live left (revoked, expired, or never known) has nothing to revoke, and
 * the refusal is not audited as reuse. A token signed before `fid` existed cannot name its family:
 * it is refused only.
 *
 * @module
 */
import type { JWTPayload } from 'jose'
import { InvalidGrant } from '../errors.js'
import type { GrantServices } from './types.js'

export async function refusePurgedRefreshToken (claims: JWTPayload, clientId: string, services: GrantServices, ip: string, now: Date): Promise<never> {
  const familyId = typeof claims.fid === 'string' ? claims.fid : undefined
  if (familyId) {
    const revoked = await services.refreshTokens.revokeLiveFamily(familyId, now)
    if (revoked > 0) {
      await services.audit.record({
        type: 'refresh_token_reuse', subject: familyId, actor: claims.sub ?? null, clientId, ip,
        detail: { family_id: familyId, tokens_revoked: revoked, row_purged: true },
      })
    }
  }
  throw new InvalidGrant('refresh token is invalid, expired or already used')
}
