/**
 * The keyring: each instance's in-memory view of the signing keys, and the lifecycle operations.
 *
 * Signing and JWKS serving never touch the database: the active private key and the serialized
 * JWKS are held in memory and re-read every `keyRefreshInterval` seconds, which is how an instance
 * picks up a rotation made by another one. Lifecycle changes (ensure, rotate, revoke, retire,
 * rewrap) run through `KeyStore.locked`, one transaction under a cluster-wide lock.
 *
 * Lifecycle timestamps and decisions (created, activated, retiring, retire-after; "is rotation
 * due", "has the next key been published long enough") use PostgreSQL's clock, read inside the
 * locked step: a host whose clock jumped must neither promote a key published a second ago nor
 * date keys into the future. Rotation refuses while the process clock is off by more than
 * CLOCK_SKEW_MAX (see `clock_guard.ts`), and a key dated in the future (written by a host whose
 * clock was ahead) is re-dated to the database's now rather than wedging rotation until then.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { importJWK, type CryptoKey, type JWK } from 'jose'
import type { Policy, SigningAlg } from '../config/defaults.js'
import { loadKEK, open, seal, type KEK } from '../crypto/kek.js'
import type { KeyStore, KeyTransaction, StoredKey } from '../storage/types.js'
import { ClockGuard, ClockSkewError } from './clock_guard.js'
import { aadOf } from './sealed_values.js'
import { generateSigningKey, nextIsPublishedLongEnough, prePublicationSeconds, publishedJwk, retiringGraceSeconds, rotationDue, type GeneratedKey } from './keys.js'

export interface SigningKeyHandle { kid: string, alg: SigningAlg, key: CryptoKey }

export interface JWKSDocument { body: string, etag: string }

export interface KeyringLogger { info(obj: object, msg: string): void, warn(obj: object, msg: string): void, error(obj: object, msg: string): void }

export class KeyLifecycleError extends Error {
  override name = 'KeyLifecycleError'
}

export interface KeyringOptions {
  store: KeyStore
  kek: KEK
  policy: Pick<Policy, 'signingAlg' | 'accessTokenTTL' | 'refreshTokenTTL' | 'clockSkew' | 'jwksMaxAge' | 'keyRotationInterval' | 'keyRefreshInterval'>
  log: KeyringLogger
  /** Injectable process clock, so lifecycle tests need no sleeps. */
  now?: () => Date
  /**
   * The clock guard whose database clock dates key changes. Default: one on `store.databaseNow()`
   * (or on `now` itself when only `now` is injected), with a 30 s limit.
   */
  clock?: ClockGuard
  /** Called after a revoke or rotation changed which refresh tokens are valid. */
}

export class Keyring {
  readonly #store: KeyStore
  #kek: KEK
  readonly #policy: KeyringOptions['policy']
  readonly #log: KeyringLogger
  readonly #now: () => Date
  readonly #clock: ClockGuard
  #published: StoredKey[] = []
  #fingerprint = ''
  #signing?: SigningKeyHandle
  #verifying = new Map<string, { alg: string, key: CryptoKey }>()
  #jwks: JWKSDocument = { body: '{"keys":[]}', etag: '' }
  #timer?: NodeJS.Timeout
  #ticking?: Promise<void>
  #reloading?: Promise<void>
  /** A key generated ahead of the next rotation (see #takeSpare). */
  #spare?: Promise<GeneratedKey>
  #refreshing: Promise<void> = Promise.resolve()
  /** A due scheduled rotation is being held back by clock skew (logged once). */
  #postponed = false

  constructor (options: KeyringOptions) {
    this.#store = options.store
    this.#kek = options.kek
    this.#policy = options.policy
    this.#log = options.log
    this.#now = options.now ?? (() => new Date())
    const injected = options.now
    this.#clock = options.clock ?? new ClockGuard({
      processNow: this.#now,
      databaseNow: injected ? async () => injected() : (via) => (via ?? this.#store).databaseNow(),
      maxSkewMs: 30_000,
    })
  }

  /** The clock guard this keyring dates key changes with. */
  get clock (): ClockGuard {
    return this.#clock
  }

  /** Makes sure an active and a next key exist, loads them, and starts the maintenance timer. */
  async start ({ schedule = true } = {}): Promise<void> {
    // Keys are generated before taking the lock (see #generate), as many as look missing now.
    const present = (await this.#store.published()).filter((k) => k.status === 'active' || k.status === 'next').length
    const spare = await this.#generate(Math.max(0, 2 - present))
    await this.#store.locked((tx) => this.#repair(tx, spare))
    await this.refresh()
    if (schedule) {
      this.#timer = setInterval(() => this.#onTimer(), this.#policy.keyRefreshInterval * 1000)
      this.#timer.unref()
      this.#spare = this.#background(generateSigningKey(this.#policy.signingAlg))
    }
  }

  /**
   * The reload runs on every timer beat on its own, not only inside `tick`: a maintenance round
   * can wait on the database or on key generation, and meanwhile this instance must still pick up
   * a key another instance published, or it would serve a stale JWKS past the pre-publication
   * margin (see `prePublicationSeconds`).
   */
  #onTimer (): void {
    this.#reloading ??= this.refresh()
      .catch((err) => this.#log.error({ err }, 'key reload failed; keeping the current keys'))
      .finally(() => { this.#reloading = undefined })
    this.#ticking ??= this.tick().finally(() => { this.#ticking = undefined })
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await Promise.all([this.#ticking, this.#reloading, this.#spare?.catch(() => {})])
  }

  /** The key that signs every token issued now. */
  signingKey (): SigningKeyHandle {
    if (!this.#signing) throw new KeyLifecycleError('no active signing key loaded')
    return this.#signing
  }

  /** A published key by kid, for verifying tokens Stamp itself issued. */
  verificationKey (kid: string): { alg: string, key: CryptoKey } | undefined {
    return this.#verifying.get(kid)
  }

  jwks (): JWKSDocument {
    return this.#jwks
  }

  published (): readonly StoredKey[] {
    return this.#published
  }

  /** One maintenance round: scheduled rotation and retirement when due, then reload. */
  async tick (): Promise<void> {
    try {
      // A cheap pre-check on the estimate; the decision is made on the database's clock below.
      const now = this.#clock.estimatedDatabaseNow()
      if (this.#maintenanceDue(this.#published, now) || this.#futureDated(this.#published, now)) {
        const spare = this.#rotationDue(this.#published, now) ? [await this.#takeSpare()] : []
        await this.#store.locked(async (tx) => {
          // Re-check under the lock: another instance may have done it a moment ago.
          const reading = await this.#clock.check(tx)
          const at = reading.databaseNow
          const keys = await this.#redate(tx, await tx.all(), at)
          if (this.#rotationDue(keys, at)) {
            if (reading.ok) await this.#rotate(tx, keys, 'scheduled', spare, at)
            else if (!this.#postponed) this.#log.error({ skew_ms: reading.skewMs }, this.#clock.describe('run the scheduled key rotation', reading.skewMs))
            this.#postponed = !reading.ok // logged once per postponement, not on every tick
          }
          await this.#retireExpired(tx, await tx.all(), at)
        }, { tryOnly: true })
      }
      await this.refresh()
    } catch (err) {
      this.#log.error({ err }, 'key maintenance failed; keeping the current keys')
    }
  }

  /**
   * Re-reads the published keys; rebuilds the signing key and JWKS only when the set changed.
   * Calls are queued: two overlapping reloads (timer and a manual rotate) could otherwise finish
   * out of order and put an older key set back in memory until the next tick.
   */
  refresh (): Promise<void> {
    const run = this.#refreshing.catch(() => {}).then(() => this.#reload())
    this.#refreshing = run
    return run
  }

  async #reload (): Promise<void> {
    const keys = await this.#store.published()
    const fingerprint = keys.map((k) => `${k.kid}:${k.status}`).join(',')
    if (fingerprint === this.#fingerprint) {
      // Same keys, but their dates may have been repaired elsewhere (see #redate).
      this.#published = keys
      return
    }
    const active = keys.find((k) => k.status === 'active')
    if (!active?.privateKeyEnc) throw new KeyLifecycleError('no active signing key in the database')
    const privateJwk = JSON.parse(open(this.#kek, active.privateKeyEnc, active.kid)) as JWK
    const verifying = new Map<string, { alg: string, key: CryptoKey }>()
    for (const k of keys) verifying.set(k.kid, { alg: k.alg, key: await importJWK(k.publicJwk, k.alg) as CryptoKey })
    this.#signing = { kid: active.kid, alg: active.alg as SigningAlg, key: await importJWK(privateJwk, active.alg) as CryptoKey }
    this.#verifying = verifying
    this.#published = keys
    this.#jwks = buildJWKS(keys)
    if (this.#fingerprint) this.#log.info({ kid: active.kid, published: keys.map((k) => k.kid) }, 'signing keys reloaded')
    this.#fingerprint = fingerprint
  }

  /**
   * Promotes next → active, active → retiring (kept until its tokens expire) and publishes a fresh
   * next key, in one transaction. Refuses while the next key is younger than one JWKS max-age,
   * since a verifier's cached JWKS might not contain it yet; `force` overrides that.
   */
  async rotate ({ force = false } = {}): Promise<{ active: string, next: string, retiring: string }> {
    const spare = [await this.#takeSpare()]
    const result = await this.#store.locked(async (tx) => {
      let now: Date
      try {
        now = await this.#clock.trustedNow('rotate the signing keys', tx)
      } catch (err) {
        if (err instanceof ClockSkewError) throw new KeyLifecycleError(err.message)
        throw err
      }
      const keys = await this.#redate(tx, await tx.all(), now)
      const next = keys.find((k) => k.status === 'next')
      if (next && !force && !nextIsPublishedLongEnough(next, now, this.#policy)) {
        throw new KeyLifecycleError(`next key ${next.kid} has been published for less than JWKS_MAX_AGE + KEY_REFRESH_INTERVAL (${prePublicationSeconds(this.#policy)} s); verifiers may not have it yet (use --force to rotate anyway)`)
      }
      return this.#rotate(tx, keys, 'manual', spare, now)
    })
    await this.refresh()
    return result!
  }

  /**
   * Emergency revoke: removes a compromised key from the JWKS at once, destroys its private half,
   * revokes every refresh-token family it signed, and promotes the next key if it was active.
   * This is the one operation that does break verifiers, on purpose.
   */
  async revoke (kid: string): Promise<{ revoked: string, refreshFamiliesRevoked: number, active: string }> {
    const spare = [await this.#takeSpare()] // revoking active or next leaves one key to replace
    const result = await this.#store.locked(async (tx) => {
      // An emergency revoke works whatever the clocks say; it is dated by the database's.
      const { databaseNow: now } = await this.#clock.check(tx)
      const key = (await tx.all()).find((k) => k.kid === kid)
      if (!key) throw new KeyLifecycleError(`no key with kid ${kid}`)
      if (key.status === 'revoked' || key.status === 'retired') throw new KeyLifecycleError(`key ${kid} is already ${key.status}`)
      await tx.update(kid, { status: 'revoked', privateKeyEnc: null, retiredAt: now })
      const refreshFamiliesRevoked = await tx.revokeRefreshTokensSignedBy(kid, now)
      const active = await this.#repair(tx, spare, now)
      this.#log.warn({ kid, refreshFamiliesRevoked }, 'signing key revoked')
      return { revoked: kid, refreshFamiliesRevoked, active }
    })
    await this.refresh()
    return result!
  }

  /**
   * Re-seals every stored private key under `newKek` (one transaction). This keyring switches to
   * the new KEK afterwards; other instances must be restarted with it (see docs/key-lifecycle.md).
   */
  async rewrap (newKek: KEK): Promise<{ rewrapped: number, others: number }> {
    const result = await this.#store.locked(async (tx) => {
      let rewrapped = 0
      for (const key of await tx.all()) {
        if (!key.privateKeyEnc) continue
        const plaintext = open(this.#kek, key.privateKeyEnc, key.kid)
        await tx.update(key.kid, { privateKeyEnc: seal(newKek, plaintext, key.kid), kekId: newKek.id })
        rewrapped++
      }
      // Everything else sealed with the KEK (TOTP secrets, provider credentials, upstream ID
      // Tokens), in the same transaction: all or nothing moves to the new KEK.
      let others = 0
      for (const value of await tx.sealedValues()) {
        const aad = aadOf(value)
        await tx.reseal(value, seal(newKek, open(this.#kek, value.sealed, aad), aad), newKek.id)
        others++
      }
      return { rewrapped, others }
    })
    // Only after the commit: had it rolled back, the keys would still be under the old KEK.
    this.#kek = newKek
    return result!
  }

  #maintenanceDue (keys: StoredKey[], now: Date): boolean {
    return this.#rotationDue(keys, now) ||
      keys.some((k) => k.status === 'retiring' && k.retireAfter !== null && k.retireAfter <= now)
  }

  #rotationDue (keys: StoredKey[], now: Date): boolean {
    const active = keys.find((k) => k.status === 'active')
    const next = keys.find((k) => k.status === 'next')
    return !!active && !!next && rotationDue(active, next, now, this.#policy)
  }

  async #rotate (tx: KeyTransaction, keys: StoredKey[], reason: 'manual' | 'scheduled', spare: GeneratedKey[], decidedAt: Date) {
    const active = keys.find((k) => k.status === 'active')
    const next = keys.find((k) => k.status === 'next')
    if (!active || !next) throw new KeyLifecycleError('key set incomplete; restart to repair it')
    // The clock is read after any key generation: the new next key's created_at must not predate
    // the commit by much, or its pre-publication period would be counted short.
    const spareKey = spare.shift()
    const generated = spareKey ?? await generateSigningKey(this.#policy.signingAlg)
    const now = spareKey ? decidedAt : (await this.#clock.check(tx)).databaseNow
    const retireAfter = new Date(now.getTime() + retiringGraceSeconds(this.#policy) * 1000)
    await tx.update(active.kid, { status: 'retiring', retiringAt: now, retireAfter })
    await tx.update(next.kid, { status: 'active', activatedAt: now })
    const fresh = await this.#insertKey(tx, 'next', now, generated)
    this.#log.info({ reason, active: next.kid, retiring: active.kid, next: fresh }, 'signing keys rotated')
    return { active: next.kid, next: fresh, retiring: active.kid }
  }

  async #retireExpired (tx: KeyTransaction, keys: StoredKey[], now: Date): Promise<void> {
    for (const key of keys) {
      if (key.status === 'retiring' && key.retireAfter && key.retireAfter <= now) {
        await tx.update(key.kid, { status: 'retired', privateKeyEnc: null, retiredAt: now })
        this.#log.info({ kid: key.kid }, 'signing key retired')
      }
    }
  }

  /**
   * Keys for a coming locked step, generated before the lock is taken: an RSA key takes from
   * ~100 ms to over a second on a busy host, and holding the cluster-wide lock (and a transaction)
   * that long would stall every other instance's start and maintenance. Unused keys are dropped.
   */
  async #generate (count: number): Promise<GeneratedKey[]> {
    return Promise.all(Array.from({ length: count }, () => generateSigningKey(this.#policy.signingAlg)))
  }

  /**
   * A key for the coming rotation. With the timer running, one is generated in the background ahead
   * of time, so a scheduled rotation fires on the tick it is due instead of a key generation later
   * (the schedule would drift by that much each time); the replacement starts generating at once.
   * The spare lives only in this process's memory until a rotation stores it sealed.
   */
  async #takeSpare (): Promise<GeneratedKey> {
    const ready = this.#spare
    if (!this.#timer) return ready ?? generateSigningKey(this.#policy.signingAlg)
    this.#spare = this.#background(generateSigningKey(this.#policy.signingAlg))
    try {
      if (ready) return await ready
    } catch {} // a failed background generation: try once more in the foreground
    return generateSigningKey(this.#policy.signingAlg)
  }

  #background (generating: Promise<GeneratedKey>): Promise<GeneratedKey> {
    generating.catch((err) => this.#log.warn({ err }, 'background key generation failed'))
    return generating
  }

  /**
   * Keys dated in the future by a host whose clock was ahead when it wrote them: rotation would
   * wait for that date (a next key "published" from tomorrow is never published long enough).
   * Re-dating to the database's now restarts the waiting periods from a time every instance
   * agrees on; the key has in fact been published at least that long, so this is safe.
   */
  async #redate (tx: KeyTransaction, keys: StoredKey[], now: Date): Promise<StoredKey[]> {
    const future = (d: Date | null) => d !== null && d.getTime() > now.getTime() + 1_000
    let changed = false
    for (const key of keys) {
      if (key.status === 'next' && future(key.createdAt)) {
        await tx.update(key.kid, { createdAt: now })
      } else if (key.status === 'active' && (future(key.activatedAt) || future(key.createdAt))) {
        await tx.update(key.kid, { activatedAt: now, ...(future(key.createdAt) ? { createdAt: now } : {}) })
      } else if (key.status === 'retiring' && future(key.retiringAt)) {
        await tx.update(key.kid, { retiringAt: now, retireAfter: new Date(now.getTime() + retiringGraceSeconds(this.#policy) * 1000) })
      } else {
        continue
      }
      changed = true
      this.#log.warn({ kid: key.kid, status: key.status, created: key.createdAt, activated: key.activatedAt, retiring: key.retiringAt, now }, 'signing key dated in the future (a clock was ahead); re-dated to the database clock')
    }
    return changed ? tx.all() : keys
  }

  #futureDated (keys: readonly StoredKey[], now: Date): boolean {
    const future = (d: Date | null) => d !== null && d.getTime() > now.getTime() + 1_000
    return keys.some((k) => future(k.createdAt) || future(k.activatedAt) || future(k.retiringAt))
  }

  /** Restores the invariant "exactly one active and one next key"; returns the active kid. */
  async #repair (tx: KeyTransaction, spare: GeneratedKey[] = [], at?: Date): Promise<string> {
    const now = at ?? (await this.#clock.check(tx)).databaseNow
    let keys = await this.#redate(tx, await tx.all(), now)
    let active = keys.find((k) => k.status === 'active')
    if (!active) {
      const next = keys.find((k) => k.status === 'next')
      if (next) await tx.update(next.kid, { status: 'active', activatedAt: now })
      else await this.#insertKey(tx, 'active', now, spare.shift())
      keys = await tx.all()
      active = keys.find((k) => k.status === 'active')!
    }
    if (!keys.some((k) => k.status === 'next')) await this.#insertKey(tx, 'next', now, spare.shift())
    return active.kid
  }

  async #insertKey (tx: KeyTransaction, status: 'active' | 'next', now: Date, generated?: GeneratedKey): Promise<string> {
    // New keys always use the configured algorithm; keys of an earlier one stay until retired.
    const key = generated ?? await generateSigningKey(this.#policy.signingAlg)
    await tx.insert({
      kid: key.kid,
      alg: key.alg,
      status,
      publicJwk: key.publicJwk,
      privateKeyEnc: seal(this.#kek, JSON.stringify(key.privateJwk), key.kid),
      kekId: this.#kek.id,
      createdAt: now,
      activatedAt: status === 'active' ? now : null,
    })
    return key.kid
  }
}

/** RFC 7517 §5 JWK Set from an allow-list of public members; the ETag changes only with the set. */
export function buildJWKS (keys: readonly StoredKey[]): JWKSDocument {
  const order = { active: 0, next: 1, retiring: 2 } as Record<string, number>
  const sorted = [...keys].sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9) || a.kid.localeCompare(b.kid))
  const body = JSON.stringify({ keys: sorted.map(publishedJwk) })
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
}

/**
 * The KEK for a keyring on `store`: a key file may only be generated while the store holds no
 * sealed private key (see `loadKEK`).
 */
export function loadKEKFor (config: { keyEncryptionKey?: string, keysDir: string }, store: Pick<KeyStore, 'all'>, log: Pick<KeyringLogger, 'warn'>): Promise<KEK> {
  return loadKEK(config, { sealedKeyCount: async () => (await store.all()).filter((k) => k.privateKeyEnc !== null).length, log })
}
