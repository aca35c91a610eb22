/**
 * Operators' view of clients, self-registered ones above all:
 *
 * - `stamp client list [--origin admin|dcr|cimd] [--limit N] [--json]` — with origin and last use.
 * - `stamp client revoke ID [--json]` — refused everywhere from now on (a metadata document client
 *   too, while its document is still served); its refresh tokens are revoked.
 * - `stamp client purge --unused-days N [--origin dcr|cimd]... [--json]` — deletes self-registered
 *   clients with no token issued for N days, with their tokens and consents.
 *
 * Other instances cache clients for CLIENT_CACHE_TTL seconds.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { PURGEABLE_ORIGINS, purgeUnusedClients, revokeClient } from '../domain/client_lifecycle.js'
import type { ClientOrigin } from '../storage/types.js'
import { withContext } from './context.js'
import { CommandError, print, table, UsageError } from './output.js'

const ORIGINS: readonly ClientOrigin[] = ['admin', 'dcr', 'cimd']

function origin (value: string): ClientOrigin {
  if (!(ORIGINS as readonly string[]).includes(value)) throw new UsageError(`--origin must be one of ${ORIGINS.join(', ')}`)
  return value as ClientOrigin
}

export async function clientListCommand (args: string[], config: Config): Promise<void> {
  const { values } = parseArgs({ args, options: { origin: { type: 'string' }, limit: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } }, strict: true })
  const limit = Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000')
  const origins = values.origin ? [origin(values.origin)] : []
  const clients = await withContext(config, (ctx) => ctx.clients.listByOrigin(origins, { limit }))
  const rows = clients.map((c) => ({
    client_id: c.id, name: c.name, origin: c.origin ?? 'admin', created_at: c.createdAt ?? null, last_used_at: c.lastUsedAt ?? null, revoked_at: c.revokedAt ?? null,
  }))
  print(values.json, { clients: rows }, rows.length ? table(rows, ['client_id', 'name', 'origin', 'last_used_at', 'revoked_at']) : 'no clients')
}

export async function clientRevokeCommand (args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true })
  const [id] = positionals
  if (!id || positionals.length !== 1) throw new UsageError('usage: stamp client revoke ID [--json]')
  const result = await withContext(config, async (ctx) => {
    const revoked = await revokeClient({ clients: ctx.clients, refreshTokens: ctx.refreshTokens }, id, new Date())
    if (!revoked) throw new CommandError(`no client ${id}`)
    await ctx.audit.record({ type: 'client_revoked', actor: 'cli', subject: id, clientId: id, detail: { origin: revoked.client.origin, refresh_families_revoked: revoked.refreshFamiliesRevoked } })
    return revoked
  })
  print(values.json, { client_id: id, revoked_at: result.client.revokedAt, refresh_families_revoked: result.refreshFamiliesRevoked },
    `client ${id} revoked (${result.refreshFamiliesRevoked} refresh token families revoked)`)
}

export async function clientPurgeCommand (args: string[], config: Config): Promise<void> {
  const { values } = parseArgs({ args, options: { 'unused-days': { type: 'string' }, origin: { type: 'string', multiple: true, default: [] }, json: { type: 'boolean', default: false } }, strict: true })
  const days = Number(values['unused-days'])
  if (values['unused-days'] === undefined || !Number.isInteger(days) || days < 1 || days > 3650) throw new UsageError('usage: stamp client purge --unused-days N [--origin dcr|cimd]... [--json]  (N from 1 to 3650)')
  const origins = values.origin.length ? values.origin.map(origin) : [...PURGEABLE_ORIGINS]
  if (origins.includes('admin')) throw new UsageError('clients registered by an operator are never purged; delete them one by one')
  const purged = await withContext(config, async (ctx) => {
    const ids = await purgeUnusedClients({ clients: ctx.clients, refreshTokens: ctx.refreshTokens }, days, origins, new Date())
    await ctx.audit.record({ type: 'clients_purged', actor: 'cli', detail: { unused_days: days, origins, count: ids.length, client_ids: ids.slice(0, 100) } })
    return ids
  })
  print(values.json, { purged }, purged.length ? `purged ${purged.length} clients:\n${purged.join('\n')}` : 'nothing to purge')
}
