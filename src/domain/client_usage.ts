/**
 * Records when each client last got a token, cheaply: at most one database write per client per
 * interval (an in-memory note per instance skips the rest), never on the response's critical path.
 * The first use ever of a client is an audit event.
 *
 * @module
 */
import type { ClientRecord, ClientStore } from '../storage/types.js'
import type { AuditLog } from './audit.js'

export interface UsageLogger { warn(obj: object, msg: string): void }

export class ClientUsage {
  readonly #store: ClientStore
  readonly #audit: AuditLog
  readonly #log: UsageLogger
  readonly #intervalMs: number
  readonly #recorded = new Map<string, number>()
  readonly #pending = new Set<Promise<void>>()
  static readonly MAX_ENTRIES = 50_000

  constructor (options: { store: ClientStore, audit: AuditLog, log: UsageLogger, intervalSeconds: number }) {
    this.#store = options.store
    this.#audit = options.audit
    this.#log = options.log
    this.#intervalMs = options.intervalSeconds * 1000
  }

  /** Notes a token issuance; returns at once. */
  used (client: ClientRecord, ip?: string): void {
    const now = Date.now()
    const last = this.#recorded.get(client.id)
    if (last !== undefined && now - last < this.#intervalMs) return
    if (this.#recorded.size >= ClientUsage.MAX_ENTRIES) this.#recorded.clear()
    this.#recorded.set(client.id, now)
    const write = this.#store.touchLastUsed(client.id, new Date(now), this.#intervalMs)
      .then(async (outcome) => {
        if (outcome === 'first') {
          await this.#audit.record({ type: 'client_first_use', actor: client.id, subject: client.id, clientId: client.id, ip, detail: { origin: client.origin ?? 'admin' } })
        }
      })
      .catch((err: unknown) => {
        this.#recorded.delete(client.id)
        this.#log.warn({ err, client_id: client.id }, 'recording client last use failed')
      })
      .finally(() => this.#pending.delete(write))
    this.#pending.add(write)
  }

  /** Waits for writes in flight (shutdown, tests). */
  async drain (): Promise<void> {
    await Promise.all([...this.#pending])
  }
}
