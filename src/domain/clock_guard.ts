/**
 * The clock guard: compares this process's clock with PostgreSQL's, at boot and periodically.
 *
 * Every instance signs tokens with its own clock (`iat`, `exp`) and checks expiries with it, so a
 * host whose clock jumped issues tokens that are already expired (clock behind) or treats every
 * session and refresh token as expired (clock ahead). PostgreSQL's clock is the one all instances
 * share, so it is the reference: beyond `maxSkewMs` the instance reports itself not ready (the
 * balancer stops sending it traffic) and refuses key rotation, and key lifecycle timestamps are
 * taken from the database clock, never from the process (a jumped host must not promote a key
 * that was published a second ago, nor date a key into the future).
 *
 * Skew is measured as `process − database` at the midpoint of the round trip, so network latency
 * does not count as skew (its error is at most half the round trip).
 *
 * @module
 */

export interface ClockGuardLogger { info(obj: object, msg: string): void, warn(obj: object, msg: string): void }

export interface ClockGuardOptions {
  /** This process's clock (injectable for tests). */
  processNow?: () => Date
  /**
   * PostgreSQL's clock: `SELECT clock_timestamp()`, on `via` when given (a transaction that
   * already holds a connection: with a one-connection pool, asking the pool would deadlock).
   */
  databaseNow: (via?: DatabaseClock) => Promise<Date>
  /** Largest tolerated |skew|, milliseconds (CLOCK_SKEW_MAX). */
  maxSkewMs: number
  log?: ClockGuardLogger
}

export interface DatabaseClock { databaseNow(): Promise<Date> }

export interface ClockReading {
  /** process − database, milliseconds; positive when this host's clock is ahead. */
  skewMs: number
  databaseNow: Date
  ok: boolean
}

export class ClockSkewError extends Error {
  override name = 'ClockSkewError'
}

export class ClockGuard {
  readonly #processNow: () => Date
  readonly #databaseNow: (via?: DatabaseClock) => Promise<Date>
  readonly maxSkewMs: number
  readonly #log?: ClockGuardLogger
  #skewMs?: number
  #timer?: NodeJS.Timeout

  constructor (options: ClockGuardOptions) {
    this.#processNow = options.processNow ?? (() => new Date())
    this.#databaseNow = options.databaseNow
    this.maxSkewMs = options.maxSkewMs
    this.#log = options.log
  }

  /** The last measured skew (ms), or undefined before the first successful check. */
  get skewMs (): number | undefined { return this.#skewMs }

  /** False once a check found the skew beyond the limit (until a check finds it back within). */
  get ok (): boolean { return this.#skewMs === undefined || Math.abs(this.#skewMs) <= this.maxSkewMs }

  /** Reads both clocks and records the skew; logs when it crosses the limit either way. */
  async check (via?: DatabaseClock): Promise<ClockReading> {
    const before = this.#processNow().getTime()
    const databaseNow = await this.#databaseNow(via)
    const after = this.#processNow().getTime()
    const skewMs = Math.round((before + after) / 2 - databaseNow.getTime())
    const wasOk = this.ok
    this.#skewMs = skewMs
    const ok = this.ok
    const detail = { skew_ms: skewMs, max_skew_ms: this.maxSkewMs }
    if (wasOk && !ok) this.#log?.warn(detail, `clock skew: this host's clock is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'ahead of' : 'behind'} PostgreSQL's, beyond CLOCK_SKEW_MAX; not ready, key rotation refused until it is fixed`)
    if (!wasOk && ok) this.#log?.info(detail, 'clock skew back within CLOCK_SKEW_MAX')
    return { skewMs, databaseNow, ok }
  }

  /** The database's time now, refusing when this host's clock cannot be trusted. */
  async trustedNow (action: string, via?: DatabaseClock): Promise<Date> {
    const reading = await this.check(via)
    if (!reading.ok) throw new ClockSkewError(this.describe(action, reading.skewMs))
    return reading.databaseNow
  }

  /** The database's time estimated from the process clock and the last skew (no round trip). */
  estimatedDatabaseNow (): Date {
    return new Date(this.#processNow().getTime() - (this.#skewMs ?? 0))
  }

  describe (action: string, skewMs = this.#skewMs ?? 0): string {
    const seconds = Math.round(Math.abs(skewMs) / 100) / 10
    return `refusing to ${action}: this host's clock is ${seconds} s ${skewMs > 0 ? 'ahead of' : 'behind'} PostgreSQL's (CLOCK_SKEW_MAX is ${this.maxSkewMs / 1000} s); fix the clock (NTP) and retry`
  }

  /** Periodic checks; a failed check (database down) leaves the last reading in place. */
  start (intervalMs: number): void {
    this.#timer = setInterval(() => { this.check().catch(() => {}) }, intervalMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
