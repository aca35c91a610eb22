/**
 * Retention: the purge runner that keeps Stamp's tables bounded.
 *
 * Without it every refresh leaves a row behind forever (a consumed token), and so does every
 * session, code, parked login, WebAuthn challenge, mailed link, upstream round trip and audit event. A pass deletes rows that can no longer matter —
 * dead (consumed, revoked, ended or expired) for longer than the margin, audit events older than
 * the retention — in batches, round-robin over the kinds of rows so that one large backlog does
 * not starve the others, and stops at `maxBatches` statements or `timeBudget` seconds: a backlog
 * is worked off over several passes, never in one long burst.
 *
 * One instance at a time works (the store's try-lock); the others skip the pass. Each instance
 * schedules passes every `interval` seconds ±10 %, so instances started together drift apart.
 * `stamp purge` runs one pass on demand.
 *
 * @module
 */
import type { Policy } from '../config/defaults.js'
import type { PurgeBatch, PurgeCutoffs, PurgeKind, RetentionStore } from '../storage/types.js'
import type { AuditLog } from './audit.js'

export type PurgeTable = 'refresh_tokens' | 'sessions' | 'authorization_codes' | 'authorization_requests' | 'pushed_authorization_requests' | 'used_jtis' | 'device_authorizations'
  | 'webauthn_challenges' | 'account_tokens' | 'federation_states' | 'federation_pending_links' | 'audit_events'

/** Every kind of dead row, in the order a round visits them, and the table it lives in. */
const KINDS: ReadonlyArray<[PurgeKind, PurgeTable]> = [
  ['refresh_tokens_consumed', 'refresh_tokens'],
  ['refresh_tokens_expired', 'refresh_tokens'],
  ['refresh_tokens_revoked', 'refresh_tokens'],
  ['sessions_ended', 'sessions'],
  ['sessions_expired', 'sessions'],
  ['authorization_codes', 'authorization_codes'],
  ['authorization_requests', 'authorization_requests'],
  ['pushed_authorization_requests', 'pushed_authorization_requests'],
  ['used_jtis', 'used_jtis'],
  ['device_authorizations', 'device_authorizations'],
  ['webauthn_challenges', 'webauthn_challenges'],
  ['account_tokens', 'account_tokens'],
  ['federation_states', 'federation_states'],
  ['federation_pending_links', 'federation_pending_links'],
  ['audit_events', 'audit_events'],
]

export interface PurgeReport {
  /** Rows deleted, per table. */
  removed: Record<PurgeTable, number>
  /** DELETE statements run. */
  batches: number
  /** False when the pass stopped at its budget with rows left (the next pass continues). */
  complete: boolean
  durationMs: number
}

export type PurgeOutcome =
  | { outcome: 'complete' | 'incomplete', report: PurgeReport }
  /** Another instance holds the lock. */
  | { outcome: 'skipped' }
  | { outcome: 'failed', error: unknown }

interface RetentionLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  debug(obj: object, msg: string): void
}

export interface RetentionOptions {
  store: RetentionStore
  policy: Policy['purge']
  /**
   * Seconds of the per-address mail window (Policy['accounts'].mailWindow): the mail limit counts
   * links created within it, so retention keeps them that long. 0 when absent.
   */
  mailWindow?: number
  audit: AuditLog
  log: RetentionLog
}

export class Retention {
  readonly #o: RetentionOptions
  readonly #listeners: Array<(pass: PurgeOutcome) => void> = []
  #timer: NodeJS.Timeout | undefined
  #running: Promise<PurgeReport | null> | undefined
  #stopping = false
  #resumeAt = 0

  constructor (options: RetentionOptions) {
    this.#o = options
  }

  /** Called after every pass (metrics count rows and outcomes); a throwing listener is ignored. */
  onPass (listener: (pass: PurgeOutcome) => void): void {
    this.#listeners.push(listener)
  }

  /**
   * One pass now; null when another instance is purging. A pass already running in this process
   * is joined, not doubled. `actor` names who asked, for the audit trail.
   */
  async runOnce (actor = 'retention'): Promise<PurgeReport | null> {
    this.#running ??= this.#pass(actor).finally(() => { this.#running = undefined })
    return this.#running
  }

  /** Schedules passes every `interval` seconds (±10 %); nothing when the interval is 0. */
  start (): void {
    const { interval } = this.#o.policy
    if (interval <= 0 || this.#stopping) return
    const delay = interval * 1000 * (0.9 + 0.2 * Math.random())
    this.#timer = setTimeout(() => {
      this.runOnce().catch(() => {}).finally(() => this.start()) // a failure is logged by the pass
    }, delay)
    this.#timer.unref()
  }

  /** Stops scheduling; a running pass stops after its current statement and is awaited. */
  async stop (): Promise<void> {
    this.#stopping = true
    clearTimeout(this.#timer)
    await this.#running?.catch(() => {})
  }

  async #pass (actor: string): Promise<PurgeReport | null> {
    const { policy } = this.#o
    let report: PurgeReport | undefined
    try {
      report = await this.#o.store.exclusive((batch, now) => this.#work(batch, {
        now,
        dead: new Date(now.getTime() - policy.margin * 1000),
        accountTokens: new Date(now.getTime() - Math.max(policy.margin, this.#o.mailWindow ?? 0) * 1000),
        audit: policy.auditRetention > 0 ? new Date(now.getTime() - policy.auditRetention * 1000) : null,
      }))
    } catch (error) {
      this.#o.log.warn({ err: error }, 'retention pass failed')
      this.#emit({ outcome: 'failed', error })
      throw error
    }
    if (!report) {
      this.#o.log.debug({}, 'retention pass skipped: another instance is purging')
      this.#emit({ outcome: 'skipped' })
      return null
    }
    this.#o.log.info({ purge: report }, 'retention pass')
    this.#emit({ outcome: report.complete ? 'complete' : 'incomplete', report })
    await this.#o.audit.record({
      type: 'retention_purged',
      actor,
      detail: { removed: report.removed, batches: report.batches, complete: report.complete, duration_ms: Math.round(report.durationMs) },
    })
    return report
  }

  async #work (batch: PurgeBatch, cutoffs: PurgeCutoffs): Promise<PurgeReport> {
    const { batchSize, maxBatches, timeBudget } = this.#o.policy
    const started = performance.now()
    const removed: Record<PurgeTable, number> = { refresh_tokens: 0, sessions: 0, authorization_codes: 0, authorization_requests: 0, pushed_authorization_requests: 0, used_jtis: 0, device_authorizations: 0,
      webauthn_challenges: 0, account_tokens: 0, federation_states: 0, federation_pending_links: 0, audit_events: 0 }
    const kinds = KINDS.filter(([kind]) => kind !== 'audit_events' || cutoffs.audit !== null)
    // A pass that stopped at its budget is resumed at the kind it did not reach, so that a budget
    // smaller than one round still reaches every kind over successive passes.
    const start = this.#resumeAt % kinds.length
    let pending = [...kinds.slice(start), ...kinds.slice(0, start)]
    let batches = 0
    const exhausted = () => this.#stopping || batches >= maxBatches || performance.now() - started >= timeBudget * 1000
    // Round-robin: one batch of every kind that still has rows, until none has or the budget is spent.
    while (pending.length > 0 && !exhausted()) {
      const next: typeof pending = []
      for (let i = 0; i < pending.length; i++) {
        if (exhausted()) {
          this.#resumeAt = kinds.indexOf(pending[i])
          next.push(...pending.slice(i))
          break
        }
        const [kind, table] = pending[i]
        const { deleted, more } = await batch(kind, cutoffs, batchSize)
        batches++
        removed[table] += deleted
        if (more) next.push(pending[i])
      }
      pending = next
    }
    if (pending.length === 0) this.#resumeAt = 0
    return { removed, batches, complete: pending.length === 0, durationMs: performance.now() - started }
  }

  #emit (pass: PurgeOutcome): void {
    for (const listener of this.#listeners) {
      try { listener(pass) } catch {}
    }
  }
}
