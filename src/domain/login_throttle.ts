/**
 * Per-account login throttling: exponential back-off after repeated failed logins, which slows
 * password guessing without ever locking the real user out.
 *
 * Two counters per attempt, both keyed by a hash of the lower-cased username (the raw username is
 * never stored):
 *
 * - **(username, client IP)**: after `freeAttempts` failures, each further failure doubles the
 *   wait before the next attempt from that IP is even checked: `baseDelay · 2^(failures − free)`,
 *   capped at `maxDelay`. An online guesser on one IP gets 5 free guesses, then 10 more in the
 *   next 17 minutes, then one per 15 minutes. A success from that IP clears it.
 * - **username, any IP**: a much higher threshold (`accountFreeAttempts`) and a short cap
 *   (`accountMaxDelay`, 30 s), against guessing spread over many IPs. Because its cap is short,
 *   an attacker can at worst make the real user wait that long; never more.
 *
 * Why not a hard lock-out: a lock is a denial-of-service the attacker controls (anyone who knows a
 * username can lock its owner out). A delay keyed by IP never affects the real user on their own
 * IP, and the cross-IP delay is capped. The delay is measured from the last *failure*: attempts
 * rejected while waiting are not checked against the password and do not count, so waiting
 * always ends.
 *
 * Unknown usernames are throttled exactly like known ones, so the throttle does not reveal which
 * accounts exist.
 *
 * Storage is per instance in memory, or Redis when REDIS_URL is set (shared by all instances).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import type { Policy } from '../config/defaults.js'
import { usernameKey } from './usernames.js'

export interface FailureCount { failures: number, lastFailure: number }

export interface ThrottleStore {
  get(key: string): Promise<FailureCount | null>
  /** Adds one failure at `now` (ms) and keeps the entry for `ttlSeconds` after it. */
  fail(key: string, now: number, ttlSeconds: number): Promise<void>
  reset(key: string): Promise<void>
}

export type ThrottleDecision = { allowed: true } | { allowed: false, retryAfter: number }

/** The wait (seconds) imposed after `failures` failures. */
export function backoffSeconds (failures: number, free: number, base: number, cap: number): number {
  if (failures < free) return 0
  return Math.min(cap, base * 2 ** Math.min(failures - free, 30))
}

export class LoginThrottle {
  readonly #store: ThrottleStore
  readonly #policy: Policy['loginThrottle']
  readonly #now: () => number

  constructor (store: ThrottleStore, policy: Policy['loginThrottle'], now: () => number = Date.now) {
    this.#store = store
    this.#policy = policy
    this.#now = now
  }

  /** Whether an attempt for `username` from `ip` may be checked now. */
  async check (username: string, ip: string): Promise<ThrottleDecision> {
    const now = this.#now()
    const { pair, account } = this.#keys(username, ip)
    const p = this.#policy
    const [pairCount, accountCount] = await Promise.all([this.#store.get(pair), this.#store.get(account)])
    const wait = Math.max(
      this.#remaining(pairCount, now, backoffSeconds(pairCount?.failures ?? 0, p.freeAttempts, p.baseDelay, p.maxDelay)),
      this.#remaining(accountCount, now, backoffSeconds(accountCount?.failures ?? 0, p.accountFreeAttempts, p.baseDelay, p.accountMaxDelay)),
    )
    return wait > 0 ? { allowed: false, retryAfter: Math.ceil(wait / 1000) } : { allowed: true }
  }

  async failed (username: string, ip: string): Promise<void> {
    const now = this.#now()
    const { pair, account } = this.#keys(username, ip)
    await Promise.all([this.#store.fail(pair, now, this.#policy.window), this.#store.fail(account, now, this.#policy.window)])
  }

  /** A success clears the (username, IP) counter; the cross-IP one decays on its own. */
  async succeeded (username: string, ip: string): Promise<void> {
    await this.#store.reset(this.#keys(username, ip).pair)
  }

  #remaining (count: FailureCount | null, now: number, delaySeconds: number): number {
    if (!count || delaySeconds === 0) return 0
    if (now - count.lastFailure > this.#policy.window * 1000) return 0
    return Math.max(0, count.lastFailure + delaySeconds * 1000 - now)
  }

  #keys (username: string, ip: string) {
    // The username's comparison key: every form that signs in as one user shares one back-off.
    const user = createHash('sha256').update(usernameKey(username)).digest('base64url').slice(0, 22)
    return { pair: `u:${user}:${ip}`, account: `a:${user}` }
  }
}

/** Per-instance store; bounded, evicting the oldest entry when full. */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #entries = new Map<string, FailureCount & { expires: number }>()
  static readonly MAX_ENTRIES = 100_000

  async get (key: string): Promise<FailureCount | null> {
    const entry = this.#entries.get(key)
    if (!entry) return null
    if (entry.expires <= Date.now()) {
      this.#entries.delete(key)
      return null
    }
    return { failures: entry.failures, lastFailure: entry.lastFailure }
  }

  async fail (key: string, now: number, ttlSeconds: number): Promise<void> {
    const previous = await this.get(key)
    this.#entries.delete(key) // re-insert: Map order is then least recently failed first
    if (this.#entries.size >= MemoryThrottleStore.MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(key, { failures: (previous?.failures ?? 0) + 1, lastFailure: now, expires: Date.now() + ttlSeconds * 1000 })
  }

  async reset (key: string): Promise<void> {
    this.#entries.delete(key)
  }
}

/** The few Redis commands the shared store needs (ioredis satisfies it). */
export interface RedisCommands {
  hgetall(key: string): Promise<Record<string, string>>
  del(key: string): Promise<number>
  multi(): { hincrby(key: string, field: string, by: number): unknown, hset(key: string, field: string, value: string): unknown, expire(key: string, seconds: number): unknown, exec(): Promise<unknown> }
}

/** Shared store: one hash per key with `failures` and `last`, expiring `window` after the last failure. */
export class RedisThrottleStore implements ThrottleStore {
  readonly #redis: RedisCommands
  readonly #prefix: string

  constructor (redis: RedisCommands, prefix = 'stamp:login-throttle:') {
    this.#redis = redis
    this.#prefix = prefix
  }

  async get (key: string): Promise<FailureCount | null> {
    const hash = await this.#redis.hgetall(this.#prefix + key)
    if (!hash.failures) return null
    return { failures: Number(hash.failures), lastFailure: Number(hash.last) }
  }

  async fail (key: string, now: number, ttlSeconds: number): Promise<void> {
    const k = this.#prefix + key
    const tx = this.#redis.multi()
    tx.hincrby(k, 'failures', 1)
    tx.hset(k, 'last', String(now))
    tx.expire(k, ttlSeconds)
    await tx.exec()
  }

  async reset (key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key)
  }
}

/**
 * The shared store while it works, the per-instance one while it does not: a Redis outage must
 * not turn every login into a 500. During the outage each instance counts on its own (an attacker
 * spreading guesses over N instances gets N times the budget, for as long as Redis is down); the
 * failures counted meanwhile stay in memory and are not merged back when Redis returns.
 */
export class FallbackThrottleStore implements ThrottleStore {
  readonly #shared: ThrottleStore
  readonly #local: ThrottleStore
  readonly #available: () => boolean
  readonly #onError: (err: unknown) => void

  /** `available`: whether the shared store is believed up; `onError`: it failed a call anyway. */
  constructor (shared: ThrottleStore, local: ThrottleStore, available: () => boolean, onError: (err: unknown) => void) {
    this.#shared = shared
    this.#local = local
    this.#available = available
    this.#onError = onError
  }

  get (key: string) { return this.#use((s) => s.get(key)) }
  fail (key: string, now: number, ttlSeconds: number) { return this.#use((s) => s.fail(key, now, ttlSeconds)) }
  reset (key: string) { return this.#use((s) => s.reset(key)) }

  async #use<T> (call: (store: ThrottleStore) => Promise<T>): Promise<T> {
    if (!this.#available()) return call(this.#local)
    try {
      return await call(this.#shared)
    } catch (err) {
      this.#onError(err)
      return call(this.#local)
    }
  }
}
