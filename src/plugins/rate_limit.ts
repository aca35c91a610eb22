/**
 * Request rate limits per client IP (@fastify/rate-limit), opt-in per route: a route adds
 * `config: { rateLimit: app.rateLimits.token }` (or `.admin`, `.login`). Counters live in memory
 * per instance, or in Redis when REDIS_URL is set, so every instance shares them. While Redis is
 * unreachable, each instance counts in memory (a weaker, per-instance limit, not none at all) and
 * goes back to Redis once it reconnects.
 *
 * Over the limit: 429 with `Retry-After` and an RFC 6749-shaped body, thrown as an OAuthError so
 * the one error handler in app.ts writes it; the browser endpoints turn it into an HTML page
 * (`browserErrorPages` in routes/oauth/browser.ts).
 *
 * These limits stop floods and wide password spraying from one address; guessing one account's
 * password is slowed down by the per-account back-off in domain/login_throttle.ts.
 *
 * @module
 */
import { createRequire } from 'node:module'
import fp from 'fastify-plugin'
import rateLimit, { normalizeIP, type RateLimitOptions } from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import { TemporarilyUnavailable } from '../errors.js'

/** Route-level settings, for `config: { rateLimit }`; `false` when rate limiting is off. */
export type RouteRateLimit = RateLimitOptions | false

export interface RateLimits {
  /** /token, /revoke, /introspect */
  token: RouteRateLimit
  /** every /admin route */
  admin: RouteRateLimit
  /** interactive login (/login), for the SSO routes */
  login: RouteRateLimit
  /** /authorize, GET and POST (anonymous requests park rows) */
  authorize: RouteRateLimit
  /** /userinfo */
  userinfo: RouteRateLimit
  /** forms that send mail or create accounts (forgot password, sign-up) */
  account: RouteRateLimit
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: RateLimits
  }
}

type Callback = (err: Error | null, result?: { current: number, ttl: number }) => void
interface CounterStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void
  read(key: string, cb: Callback, timeWindow: number, max: number): void
  child(routeOptions: Record<string, unknown>): CounterStore
}
interface StoreParams { continueExceeding?: boolean, exponentialBackoff?: boolean, cache?: number }

// The plugin's own stores (not in its type declarations): the Redis one runs a Lua script.
const require = createRequire(import.meta.url)
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding?: boolean, exponentialBackoff?: boolean, cache?: number) => CounterStore
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (continueExceeding: boolean | undefined, exponentialBackoff: boolean | undefined, redis: unknown, key: string) => CounterStore

/** A store class for @fastify/rate-limit: Redis while `available()`, memory otherwise or on error. */
function fallbackStore (redis: unknown, available: () => boolean, onError: (err: Error) => void) {
  return class FallbackStore implements CounterStore {
    readonly shared: CounterStore
    readonly local: CounterStore
    constructor (params: StoreParams, shared?: CounterStore, local?: CounterStore) {
      this.shared = shared ?? new RedisStore(params.continueExceeding, params.exponentialBackoff, redis, 'stamp:rate-limit:')
      this.local = local ?? new LocalStore(params.continueExceeding, params.exponentialBackoff, params.cache)
    }

    incr (key: string, cb: Callback, timeWindow: number, max: number) { this.#use('incr', key, cb, timeWindow, max) }
    read (key: string, cb: Callback, timeWindow: number, max: number) { this.#use('read', key, cb, timeWindow, max) }
    child (routeOptions: Record<string, unknown>) {
      return new FallbackStore({}, this.shared.child(routeOptions), this.local.child(routeOptions))
    }

    #use (method: 'incr' | 'read', key: string, cb: Callback, timeWindow: number, max: number) {
      if (!available()) return this.local[method](key, cb, timeWindow, max)
      this.shared[method](key, (err, result) => {
        if (!err) return cb(null, result)
        onError(err)
        this.local[method](key, cb, timeWindow, max)
      }, timeWindow, max)
    }
  }
}

export default fp(async function rateLimitPlugin (app: FastifyInstance) {
  const policy = app.config.policy.rateLimit
  const timeWindow = policy.window * 1000
  // Each limit counts under its own key (client IP + limit name), whether a route uses it through
  // `config.rateLimit` or several routes share it through one `app.rateLimit(...)` hook (as GET and
  // POST /authorize do): in Redis, all limits live in one namespace.
  const limit = (name: keyof RateLimits, max: number): RouteRateLimit => policy.enabled
    ? { max, timeWindow, keyGenerator: (request) => normalizeIP(request.ip) + name }
    : false

  if (policy.enabled) {
    await app.register(rateLimit, {
      global: false,
      ...(app.redis && app.redisMonitor ? { store: redisFallbackStore(app) } : {}),
      // Belt and braces: a store error must not take the token endpoint down with it.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => {
        const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
        return new TemporarilyUnavailable(`too many requests; retry after ${seconds} seconds`, { headers: { 'retry-after': String(seconds) } })
      },
    })
  }
  app.decorate('rateLimits', {
    token: limit('token', policy.token),
    admin: limit('admin', policy.admin),
    login: limit('login', policy.login),
    authorize: limit('authorize', policy.authorize),
    userinfo: limit('userinfo', policy.userinfo),
    account: limit('account', policy.account),
  })
}, { name: 'rate-limit', dependencies: ['services'] })

function redisFallbackStore (app: FastifyInstance) {
  const monitor = app.redisMonitor!
  // The options' type wants the plugin's own store interface; ours implements the same calls.
  return fallbackStore(app.redis, () => monitor.up, (err) => monitor.failed((err as NodeJS.ErrnoException).code, err.message.slice(0, 200))) as never
}
