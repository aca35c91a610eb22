/**
 * The up/down state of one dependency (PostgreSQL, Redis), so an outage is logged once per
 * transition instead of once per request: at 1,000 requests/s a stack per failed request is
 * megabytes of log per second that bury the one line that matters.
 *
 * - first failure: one `error` line ("<name> unavailable") with the error code, and the outage
 *   counted;
 * - while down: at most one `warn` line per `logIntervalMs`, with how many requests failed since;
 * - recovery: one `info` line ("<name> recovered") with how long it was down.
 *
 * Recovery is noticed by whoever sees the dependency work again (`recovered()`); with a `probe`,
 * the monitor also checks by itself while down, so it recovers without traffic.
 *
 * @module
 */

export interface MonitorLogger { info(obj: object, msg: string): void, warn(obj: object, msg: string): void, error(obj: object, msg: string): void }

export interface DependencyMonitorOptions {
  /** `database`, `redis`: the `dependency` field of every line, and the start of its message. */
  name: string
  log: MonitorLogger
  /** What the service does meanwhile, appended to the "unavailable" line. */
  fallback?: string
  /** Checks the dependency while it is down; resolves when it works again. */
  probe?: () => Promise<unknown>
  probeIntervalMs?: number
  logIntervalMs?: number
  now?: () => number
}

export type DependencyState = 'up' | 'down'

export class DependencyMonitor {
  readonly name: string
  readonly #o: DependencyMonitorOptions
  readonly #now: () => number
  #state: DependencyState = 'up'
  #since = 0
  #failed = 0
  #failedSinceLine = 0
  #lastLine = 0
  #outages = 0
  #probe?: NodeJS.Timeout
  #probing = false
  #listeners: Array<(state: DependencyState) => void> = []

  constructor (options: DependencyMonitorOptions) {
    this.name = options.name
    this.#o = options
    this.#now = options.now ?? Date.now
  }

  get state (): DependencyState { return this.#state }
  get up (): boolean { return this.#state === 'up' }
  /** Transitions to down since start. */
  get outages (): number { return this.#outages }

  onChange (listener: (state: DependencyState) => void): void {
    this.#listeners.push(listener)
  }

  /** A request (or a probe) failed because the dependency is unreachable. */
  failed (code: string | undefined, message: string): void {
    const now = this.#now()
    const detail = { dependency: this.name, error_code: code ?? 'unknown', error: message }
    if (this.#state === 'up') {
      this.#state = 'down'
      this.#since = now
      this.#failed = 1
      this.#failedSinceLine = 0
      this.#lastLine = now
      this.#outages++
      this.#o.log.error(detail, `${this.name} unavailable${this.#o.fallback ? `; ${this.#o.fallback}` : ''}`)
      this.#startProbe()
      this.#emit()
      return
    }
    this.#failed++
    this.#failedSinceLine++
    if (now - this.#lastLine >= (this.#o.logIntervalMs ?? 10_000)) {
      this.#o.log.warn({ ...detail, down_ms: now - this.#since, failed_since_last_line: this.#failedSinceLine }, `${this.name} still unavailable`)
      this.#lastLine = now
      this.#failedSinceLine = 0
    }
  }

  /** The dependency answered again. */
  recovered (): void {
    if (this.#state === 'up') return
    this.#state = 'up'
    this.#stopProbe()
    this.#o.log.info({ dependency: this.name, down_ms: this.#now() - this.#since, failed_requests: this.#failed }, `${this.name} recovered`)
    this.#emit()
  }

  stop (): void {
    this.#stopProbe()
  }

  #startProbe (): void {
    const probe = this.#o.probe
    if (!probe || this.#probe) return
    this.#probe = setInterval(() => {
      if (this.#probing) return
      this.#probing = true
      probe().then(() => this.recovered(), () => {}).finally(() => { this.#probing = false })
    }, this.#o.probeIntervalMs ?? 1000)
    this.#probe.unref()
  }

  #stopProbe (): void {
    clearInterval(this.#probe)
    this.#probe = undefined
  }

  #emit (): void {
    for (const listener of this.#listeners) listener(this.#state)
  }
}
