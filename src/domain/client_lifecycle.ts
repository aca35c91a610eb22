/**
 * What operators do to clients that registered themselves (and to any other): revoke one, and
 * purge those unused for N days. Shared by the admin API and the CLI, and audited by both.
 *
 * @module
 */
import type { ClientOrigin, ClientRecord, ClientStore, RefreshTokenStore } from '../storage/types.js'

/** Origins purged when none are named: only self-registered clients are ever purged by default. */
export const PURGEABLE_ORIGINS: readonly ClientOrigin[] = ['dcr', 'cimd']

export interface ClientLifecycleStores {
  clients: ClientStore
  refreshTokens: Pick<RefreshTokenStore, 'revokeClientFamilies'>
}

/**
 * Marks the client revoked (kept, so a metadata document client stays refused while its document
 * is still served) and revokes its refresh tokens. Null when there is no such client.
 */
export async function revokeClient (stores: ClientLifecycleStores, id: string, now: Date): Promise<{ client: ClientRecord, refreshFamiliesRevoked: number } | null> {
  const client = await stores.clients.update(id, { revokedAt: now, registrationTokenHash: null })
  if (!client) return null
  const refreshFamiliesRevoked = await stores.refreshTokens.revokeClientFamilies(id, now)
  return { client, refreshFamiliesRevoked }
}

/** Deletes clients of `origins` with no token issued for `unusedDays` days (nor created since); their ids. */
export async function purgeUnusedClients (stores: ClientLifecycleStores, unusedDays: number, origins: readonly ClientOrigin[], now: Date): Promise<string[]> {
  return stores.clients.purgeUnused(origins, new Date(now.getTime() - unusedDays * 86_400_000))
}
