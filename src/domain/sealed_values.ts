/**
 * Every value Stamp seals with the KEK besides signing keys, and the additional authenticated data
 * each is sealed with (crypto/kek.ts binds a ciphertext to its row). Named in one place so that
 * `stamp keys rewrap` (domain/keyring.ts) re-seals all of them in the same transaction as the
 * signing keys: a value left under the old KEK would be unreadable once that KEK is gone.
 *
 * @module
 */
import type { SealedValue } from '../storage/types.js'

/** A user's TOTP secret (domain/second_factors.ts). */
export const totpSecretAAD = (userId: string) => `totp:${userId}`
/** An upstream identity provider's client secret or private key (domain/federation/providers.ts). */
export const providerCredentialAAD = (providerId: string) => `stamp idp credential:${providerId}`
/** An upstream ID Token held for the session a parked request will start (domain/federation/broker.ts). */
export const heldIdTokenAAD = (requestId: string) => `stamp upstream id_token:${requestId}`
/** The upstream ID Token of a federated Stamp session, for upstream logout. */
export const upstreamSessionAAD = (sessionId: string) => `stamp upstream session:${sessionId}`

/** The additional authenticated data `value` was sealed with. */
export function aadOf (value: SealedValue): string {
  switch (value.kind) {
    case 'totp': return totpSecretAAD(value.aadKey)
    case 'idp_credential': return providerCredentialAAD(value.aadKey)
    case 'held_id_token': return heldIdTokenAAD(value.aadKey)
    case 'upstream_session': return upstreamSessionAAD(value.aadKey)
  }
}
