/**
 * Request rate limits per client IP (@fastify/rate-limit), opt-in per route: a route adds
 * `config: { rateLimit: app.rateLimits.token }` (or `.admin`, `.login`). Counters live in memory
 * per instance, or in Redis when REDIS_URL is set, so every instance shares them.
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
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: RateLimits
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
      ...(app.redis ? { redis: app.redis, nameSpace: 'stamp:rate-limit:' } : {}),
      // A Redis outage must not take the token endpoint down with it.
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
  })
}, { name: 'rate-limit', dependencies: ['services'] })
