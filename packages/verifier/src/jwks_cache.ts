/**
 * An in-memory JWKS cache for resource servers, written for how Stamp publishes keys.
 *
 * - Keys live in memory as imported `CryptoKey`s; a verification costs one `Map` lookup.
 * - Freshness follows the response's `Cache-Control: max-age` (RFC 9111 §5.2.2.1); revalidation
 *   is a conditional GET with `If-None-Match` (RFC 9110 §13.1.2), so an unchanged set costs a 304.
 * - A stale set keeps serving while one background revalidation runs (RFC 5861's
 *   stale-while-revalidate idea): a request never waits for Stamp when its key is cached.
 * - An unknown `kid` triggers one refetch, shared by every concurrent caller (single flight), and
 *   at most one per `cooldown`: a flood of forged `kid`s cannot turn into a flood of fetches.
 * - When Stamp is unreachable the last good set keeps serving; failures only count.
 *
 * Stamp publishes its `next` key a full max-age before it signs with it, so a scheduled rotation
 * finds every verifier already holding the new key: no refetch at all.
 *
 * @module
 */
import { importJWK, type CryptoKey, type JWK } from 'jose'
import { JWKSUnavailable, KeyNotFound } from './errors.js'

/** The `fetch` this cache needs: the WHATWG one (Node's global, undici, or a test double). */
export type FetchLike = (input: string, init: { headers: Record<string, string>, signal: AbortSignal }) => Promise<Response>

export interface JWKSCacheOptions {
  /** Where the JWK Set is; or a function resolving it once (e.g. from discovery). */
  uri: string | (() => Promise<string>)
  /** Request timeout in ms (default 5000). */
  timeout?: number
  /** Minimum ms between two refetches caused by an unknown `kid` or a failure (default 30 000). */
  cooldown?: number
  /** Freshness in seconds when the response has no `max-age` (default 300, Stamp's default). */
  defaultMaxAge?: number
  /** Upper bound on a response's `max-age`, in seconds (default 86 400). */
  maxMaxAge?: number
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike
  /** Extra request headers (e.g. a `user-agent`). */
  headers?: Record<string, string>
  /** Clock in ms, injectable for tests (default `Date.now`). */
  now?: () => number
}

/** Counters, for tests, benchmarks and metrics. */
export interface JWKSCacheStats {
  /** HTTP requests made to the JWKS URI (200s, 304s and failures). */
  fetches: number
  /** Of those, answered 304 Not Modified. */
  notModified: number
  /** Of those, failed (network, timeout, status, bad body). */
  failures: number
  /** Unknown-`kid` lookups answered from the cooldown without a fetch. */
  cooldownRejections: number
}

interface Entry { jwk: JWK, imported: Map<string, Promise<CryptoKey>>, keys: Map<string, CryptoKey> }

// Which key types can carry which JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const KTY_FOR_ALG: Record<string, string> = {
  RS256: 'RSA', RS384: 'RSA', RS512: 'RSA', PS256: 'RSA', PS384: 'RSA', PS512: 'RSA',
  ES256: 'EC', ES384: 'EC', ES512: 'EC', EdDSA: 'OKP', Ed25519: 'OKP',
}

// A floor on freshness so `max-age=0` means "revalidate every second", not "every request".
const MIN_MAX_AGE_MS = 1000

/**
 * Fetches, caches and revalidates one JWK Set.
 *
 * @example
 * ```ts
 * const cache = new JWKSCache({ uri: 'https://stamp.example/jwks' })
 * const key = await cache.getKey('kid-from-header', 'RS256')
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc7517#section-5 RFC 7517 §5}
 */
export class JWKSCache {
  readonly stats: JWKSCacheStats = { fetches: 0, notModified: 0, failures: 0, cooldownRejections: 0 }
  readonly #uriSource: string | (() => Promise<string>)
  readonly #timeout: number
  readonly #cooldown: number
  readonly #defaultMaxAge: number
  readonly #maxMaxAge: number
  readonly #fetch: FetchLike
  readonly #headers: Record<string, string>
  readonly #now: () => number
  #uri?: string
  #entries = new Map<string, Entry>()
  #loaded = false
  #etag?: string
  #freshUntil = 0
  #lastAttempt = -Infinity
  #inflight?: Promise<void>
  #lastError?: unknown

  constructor (options: JWKSCacheOptions) {
    this.#uriSource = options.uri
    this.#timeout = options.timeout ?? 5000
    this.#cooldown = options.cooldown ?? 30_000
    this.#defaultMaxAge = options.defaultMaxAge ?? 300
    this.#maxMaxAge = options.maxMaxAge ?? 86_400
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init))
    this.#headers = { accept: 'application/jwk-set+json, application/json', ...options.headers }
    this.#now = options.now ?? Date.now
  }

  /** The `kid`s currently held. */
  get kids (): string[] {
    return [...this.#entries.keys()]
  }

  /** The last fetch error, if the last fetch failed. */
  get lastError (): unknown {
    return this.#lastError
  }

  /**
   * The verification key for a JWS header's `kid` and `alg`.
   *
   * @param kid the `kid` header (a token without one matches only a set holding a single key)
   * @param alg the `alg` header, already checked against the verifier's allow-list
   * @returns the key, synchronously on the hot path (no promise to allocate), else a promise
   * @throws {@link KeyNotFound} (rejects) when no published key matches, even after a refetch
   * @throws {@link JWKSUnavailable} (rejects) when nothing is cached and the JWKS cannot be fetched
   */
  getKey (kid: string | undefined, alg: string): CryptoKey | Promise<CryptoKey> {
    // Hot path: a known key, already imported for this alg, in a fresh set.
    const cached = kid === undefined ? undefined : this.#entries.get(kid)?.keys.get(alg)
    if (cached) {
      if (this.#now() >= this.#freshUntil) this.#revalidateInBackground()
      return cached
    }
    return this.#slowGetKey(kid, alg)
  }

  /** Resolves once no fetch is in progress (e.g. a background revalidation); for shutdown and tests. */
  async idle (): Promise<void> {
    await this.#inflight
  }

  /**
   * Makes sure a set is loaded (fetching it if nothing is cached); useful at service start.
   * Resolves even when the fetch fails and an older set is still cached.
   */
  async load (): Promise<void> {
    if (!this.#loaded) await this.#refresh()
    if (!this.#loaded) throw new JWKSUnavailable(undefined, { cause: this.#lastError })
  }

  async #slowGetKey (kid: string | undefined, alg: string): Promise<CryptoKey> {
    if (!this.#loaded) {
      // Nothing cached: the first caller fetches, the rest wait for it; failures honour the cooldown.
      if (this.#inflight || this.#now() - this.#lastAttempt >= this.#cooldown) await this.#refresh()
      if (!this.#loaded) throw new JWKSUnavailable(undefined, { cause: this.#lastError })
    }
    let entry = this.#find(kid, alg)
    if (entry) {
      if (this.#now() >= this.#freshUntil) this.#revalidateInBackground()
      return this.#import(entry, alg)
    }
    // Unknown kid: maybe a key we have not seen yet (an emergency rotation). One shared refetch
    // per cooldown (or the revalidation that is due anyway); otherwise answer from the cache, so
    // forged kids cost nothing upstream.
    const now = this.#now()
    if (this.#inflight || now - this.#lastAttempt >= this.#cooldown || (now >= this.#freshUntil && !this.#lastError)) {
      await this.#refresh()
      entry = this.#find(kid, alg)
    } else {
      this.stats.cooldownRejections++
    }
    if (!entry) throw new KeyNotFound()
    return this.#import(entry, alg)
  }

  #find (kid: string | undefined, alg: string): Entry | undefined {
    const usable = (e: Entry) => usableFor(e.jwk, alg)
    if (kid !== undefined) {
      const entry = this.#entries.get(kid)
      return entry && usable(entry) ? entry : undefined
    }
    // No kid in the header: acceptable only when exactly one key could have signed it.
    const candidates = [...this.#entries.values()].filter(usable)
    return candidates.length === 1 ? candidates[0] : undefined
  }

  async #import (entry: Entry, alg: string): Promise<CryptoKey> {
    let pending = entry.imported.get(alg)
    if (!pending) {
      pending = importJWK({ ...entry.jwk, alg }, alg) as Promise<CryptoKey>
      entry.imported.set(alg, pending)
      pending.then((key) => { entry.keys.set(alg, key) }, () => { entry.imported.delete(alg) })
    }
    try {
      return await pending
    } catch (cause) {
      throw new KeyNotFound('the access token is signed with an unusable key', { cause })
    }
  }

  #revalidateInBackground (): void {
    if (this.#inflight) return
    // After a failure, wait out the cooldown before asking again.
    if (this.#now() - this.#lastAttempt < this.#cooldown && this.#lastError) return
    this.#refresh().catch(() => {})
  }

  /** Single flight: concurrent callers share the one request in progress. */
  #refresh (): Promise<void> {
    this.#inflight ??= this.#fetchSet().finally(() => { this.#inflight = undefined })
    return this.#inflight
  }

  async #fetchSet (): Promise<void> {
    this.#lastAttempt = this.#now()
    try {
      this.#uri ??= typeof this.#uriSource === 'string' ? this.#uriSource : await this.#uriSource()
      const headers = { ...this.#headers }
      if (this.#etag && this.#loaded) headers['if-none-match'] = this.#etag
      this.stats.fetches++
      const res = await this.#fetch(this.#uri, { headers, signal: AbortSignal.timeout(this.#timeout) })
      const maxAge = this.#maxAge(res.headers.get('cache-control'))
      if (res.status === 304 && this.#loaded) {
        this.stats.notModified++
        await res.body?.cancel()
      } else if (res.status === 200) {
        const body = await res.json() as { keys?: unknown }
        this.#replace(parseKeys(body))
        this.#etag = res.headers.get('etag') ?? undefined
      } else {
        await res.body?.cancel()
        throw new Error(`JWKS request answered ${res.status}`)
      }
      this.#freshUntil = this.#now() + Math.max(maxAge * 1000, MIN_MAX_AGE_MS)
      this.#lastError = undefined
    } catch (err) {
      // Keep serving what we have; the failure is remembered and rate-limited by the cooldown.
      this.stats.failures++
      this.#lastError = err
    }
  }

  #replace (jwks: JWK[]): void {
    const next = new Map<string, Entry>()
    for (const jwk of jwks) {
      const kid = jwk.kid ?? ''
      const previous = this.#entries.get(kid)
      // Keep already-imported keys when the key material is unchanged.
      next.set(kid, previous && sameKey(previous.jwk, jwk) ? previous : { jwk, imported: new Map(), keys: new Map() })
    }
    this.#entries = next
    this.#loaded = true
    // Import eagerly, so the first token signed by a freshly published key takes the hot path.
    for (const entry of next.values()) {
      if (typeof entry.jwk.alg === 'string' && usableFor(entry.jwk, entry.jwk.alg)) this.#import(entry, entry.jwk.alg).catch(() => {})
    }
  }

  #maxAge (header: string | null): number {
    if (!header) return this.#defaultMaxAge
    if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(header)) return 0
    const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(header)
    return match ? Math.min(Number(match[1]), this.#maxMaxAge) : this.#defaultMaxAge
  }
}

/** Signature keys from a JWK Set (RFC 7517 §5); anything else is skipped, not fatal. */
function parseKeys (body: { keys?: unknown }): JWK[] {
  if (!body || !Array.isArray(body.keys)) throw new Error('JWKS response has no "keys" array')
  return (body.keys as unknown[]).filter((k): k is JWK => {
    if (!k || typeof k !== 'object') return false
    const jwk = k as JWK
    // RFC 7517 §4.2/§4.3: skip keys meant for encryption, and private keys altogether.
    if (jwk.use !== undefined && jwk.use !== 'sig') return false
    if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return false
    if ('d' in jwk || jwk.kty === 'oct') return false
    return typeof jwk.kty === 'string'
  })
}

function usableFor (jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false
  return KTY_FOR_ALG[alg] === jwk.kty
}

function sameKey (a: JWK, b: JWK): boolean {
  return a.kty === b.kty && a.alg === b.alg && a.n === b.n && a.e === b.e && a.x === b.x && a.y === b.y && a.crv === b.crv
}
