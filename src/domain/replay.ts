/**
 * One-time identifiers on Redis, with the database as the fallback: DPoP proofs come with every
 * DPoP request, and an INSERT per request costs more than the rest of a client_credentials
 * request (measured: 342/s through Prisma at 450 µs of Node CPU each, 740/s on the bare pool,
 * against 9 500/s with Redis `SET NX PX` at 18 µs; bench/dpop.ts). Redis is optional at run time
 * (as for the login throttle): while it is down, identifiers go to PostgreSQL, shared all the same.
 *
 * What a fallback cannot see: an identifier recorded in one store is unknown to the other, so a
 * proof used just before Redis went away (or came back) could be presented once more within its
 * window (DPOP_PROOF_WINDOW, 60 s) on the other side of the switch.
 *
 * @module
 */
import type { ReplayStore } from '../storage/types.js'

/** The one Redis command this needs (ioredis' signature), so tests and the domain need no client. */
export interface RedisSetNX {
  set (key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>
}

/** `SET key 1 PX ttl NX`: atomic, the first caller gets OK, every other null until it expires. */
export class RedisReplayStore implements ReplayStore {
  readonly #redis: RedisSetNX
  readonly #prefix: string

  constructor (redis: RedisSetNX, prefix = 'stamp:jti:') {
    this.#redis = redis
    this.#prefix = prefix
  }

  async markUsed (namespace: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
    const ttl = Math.max(1, expiresAt.getTime() - now.getTime())
    return await this.#redis.set(`${this.#prefix}${namespace}:${jti}`, '1', 'PX', ttl, 'NX') === 'OK'
  }
}

/** The shared store while it is up, the fallback otherwise (or when a call fails). */
export class FallbackReplayStore implements ReplayStore {
  readonly #shared: ReplayStore
  readonly #fallback: ReplayStore
  readonly #available: () => boolean
  readonly #onError: (err: unknown) => void

  constructor (shared: ReplayStore, fallback: ReplayStore, available: () => boolean, onError: (err: unknown) => void) {
    this.#shared = shared
    this.#fallback = fallback
    this.#available = available
    this.#onError = onError
  }

  async markUsed (namespace: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
    if (!this.#available()) return this.#fallback.markUsed(namespace, jti, expiresAt, now)
    try {
      return await this.#shared.markUsed(namespace, jti, expiresAt, now)
    } catch (err) {
      this.#onError(err)
      return this.#fallback.markUsed(namespace, jti, expiresAt, now)
    }
  }
}
