/**
 * Withdrawing a user's consent for a client (admin API and `stamp consent revoke`): the decision
 * is forgotten, so the consent page is shown again, and the refresh-token families the user gave
 * the client are revoked, so the client loses access at once rather than when its tokens expire.
 *
 * @module
 */
import type { ConsentStore, RefreshTokenStore } from '../storage/types.js'

export interface ConsentServices {
  consents: Pick<ConsentStore, 'revoke'>
  refreshTokens: Pick<RefreshTokenStore, 'revokeFamilies'>
}

export async function withdrawConsent ({ consents, refreshTokens }: ConsentServices, userId: string, clientId: string, now = new Date()):
Promise<{ revoked: boolean, refreshFamiliesRevoked: number }> {
  const revoked = await consents.revoke(userId, clientId)
  // Also without a stored consent (first-party clients never ask): withdrawing means "this client, no more".
  const refreshFamiliesRevoked = await refreshTokens.revokeFamilies({ userId, clientId }, now)
  return { revoked, refreshFamiliesRevoked }
}
