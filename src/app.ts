/**
 * The Stamp application: plugins, then routes, and one error handler that speaks RFC 6749.
 * `server.ts` listens; tests build this directly and use `inject`.
 *
 * @module
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import { OAuthError, ServiceUnavailable, errorDescription } from './errors.js'
import { databaseOutageCode, shortMessage } from './db/outage.js'
import { sendErrorPage } from './routes/oauth/browser.js'
import { ENDPOINTS } from './routes/well_known/discovery.js'
import { lazyChildLogger } from './logging.js'
import type { Config, TrustProxy } from './config/env.js'
import type { HostLookup } from './domain/backchannel_logout.js'
import { apiDocs, openAPI } from './plugins/api_docs.js'
import formBody from './plugins/form_body.js'
import inputHygiene from './plugins/input_hygiene.js'
import services, { type ServicesOptions } from './plugins/services.js'
import metrics from './plugins/metrics.js'
import rateLimit from './plugins/rate_limit.js'
import branding from './plugins/branding.js'
import assetRoutes from './routes/assets.js'
import adminRoutes, { ADMIN_PREFIX } from './routes/admin/index.js'
import tokenRoute from './routes/oauth/token.js'
import revokeRoute from './routes/oauth/revoke.js'
import introspectRoute from './routes/oauth/introspect.js'
import parRoute from './routes/oauth/par.js'
import authorizeRoute from './routes/oauth/authorize.js'
import loginRoute from './routes/oauth/login.js'
import secondFactorRoutes from './routes/oauth/second_factor.js'
import passkeyLoginRoutes from './routes/oauth/passkey_login.js'
import passkeyEnrolmentRoutes from './routes/oauth/passkey_enrolment.js'
import federationRoutes from './routes/oauth/federation.js'
import federationLinkMailRoutes from './routes/oauth/federation_link_mail.js'
import staticRoutes from './routes/static.js'
import accountRoutes from './routes/account/index.js'
import consentRoute from './routes/oauth/consent.js'
import userinfoRoute from './routes/oauth/userinfo.js'
import logoutRoute from './routes/oauth/logout.js'
import registerRoute from './routes/oauth/register.js'
import deviceRoutes from './routes/device/index.js'
import passwordResetRoutes from './routes/oauth/password_reset.js'
import emailVerificationRoutes from './routes/oauth/email_verification.js'
import signupRoutes from './routes/oauth/signup.js'
import { ACCOUNT_PAGES } from './domain/accounts.js'
import jwksRoute from './routes/well_known/jwks.js'
import discoveryRoutes from './routes/well_known/discovery.js'
import healthRoutes from './routes/health.js'
import consoleRoutes from './routes/console/index.js'

export interface AppOptions {
  config: Config
  database: { url: string, poolMax: number }
  loggerInstance?: FastifyBaseLogger
  now?: () => Date
  /** Injectable database clock (clock guard tests). */
  databaseNow?: () => Promise<Date>
  scheduleKeys?: boolean
  /** Sent as `x-stamp-instance` on every response (which instance/worker answered); off when absent. */
  instanceTag?: string
  /** HTTP client for back-channel logout deliveries (tests may inject one). */
  fetch?: typeof fetch
  /** DNS resolution for back-channel logout deliveries (tests inject one). */
  lookup?: HostLookup
  /** Client metadata document fetching: an injected DNS lookup and extra trusted CAs (tests). */
  clientMetadataFetch?: ServicesOptions['clientMetadataFetch']
  /** Mail transport (tests); default from SMTP_URL / MAIL_OUTBOX_DIR. */
  mailTransport?: ServicesOptions['mailTransport']
  /** Upstream identity provider requests: injected resolver and CAs (tests). */
  federationFetch?: ServicesOptions['federationFetch']
}

/** Safe descriptions for Fastify's own client errors: never echo internal messages. */
const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'request body is not valid JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length does not match the body',
}

/** Pages a browser navigates to: an outage there gets an HTML page, not JSON. */
const BROWSER_PAGES = new Set<string>([
  ENDPOINTS.authorization, ENDPOINTS.login, ENDPOINTS.consent, ENDPOINTS.endSession, ENDPOINTS.loginFactor, ENDPOINTS.loginEnrol,
  ENDPOINTS.loginContinue, ENDPOINTS.loginEnrolPasskey, ENDPOINTS.passkeyLogin, ENDPOINTS.account,
  ENDPOINTS.device, `${ENDPOINTS.device}/login`, `${ENDPOINTS.device}/approve`, ...Object.values(ACCOUNT_PAGES),
])

/** Fastify accepts a hop count at run time but its types do not; this is its own translation. */
function trustProxyOption (value: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_address, hop) => hop < value : value
}

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.loggerInstance,
    genReqId: () => randomUUID(),
    childLoggerFactory: lazyChildLogger,
    trustProxy: trustProxyOption(options.config.trustProxy),
    bodyLimit: options.config.policy.bodyLimit,
    // During a graceful shutdown, requests that still arrive on open keep-alive connections are
    // served (with `Connection: close`) instead of answered 503: a proxy cannot safely retry a
    // POST /token that it already sent (nginx does not without `non_idempotent`), but it does
    // retry the next connection attempt, which the closed listener refuses. See docs/production.md.
    return503OnClosing: false,
    // The first start generates signing keys under a cluster-wide lock that every starting
    // instance queues on; on a busy host that outlasts avvio's 10 s default.
    pluginTimeout: 60_000,
    routerOptions: { ignoreTrailingSlash: false },
    // Errors the router raises before any route or error handler runs (a malformed URL, a path
    // parameter over maxParamLength): in the same RFC 6749 shape as every other error.
    frameworkErrors: (err, _request, genericReply) => {
      const reply = genericReply as FastifyReply
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400
      const description = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path segment is too long' : 'malformed request URL'
      reply.code(status).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: description })
    },
  })

  if (options.config.trustProxy === true) {
    // Every peer may then set X-Forwarded-For/-Proto/-Host: client IPs (rate limits, login
    // back-off, audit) and, without ISSUER, the issuer itself become whatever a client claims.
    app.log.warn({ trust_proxy: true }, 'TRUST_PROXY=true trusts X-Forwarded-* from any peer, so any client can spoof its address (rate limits, audit) and the issuer derived from them; set TRUST_PROXY to the addresses of your proxies, or a hop count')
  }

  /** Counted once the metrics plugin is registered (errors during boot have no registry yet). */
  const countError = (code: string) => { if (app.hasDecorator('metrics')) app.metrics.errors.inc({ error: code }) }

  /**
   * 503 with Retry-After (an HTML page where a browser navigated); the monitor logs the outage
   * once per transition, so a flood of failing requests costs no stack trace each.
   */
  const unavailable = (err: Error, code: string, request: FastifyRequest, reply: FastifyReply) => {
    if (app.hasDecorator('databaseMonitor')) app.databaseMonitor.failed(code, shortMessage(err))
    else request.log.error({ error_code: code, error: shortMessage(err) }, 'database unavailable')
    reply.header('retry-after', String(options.config.policy.outageRetryAfter))
    if (BROWSER_PAGES.has(request.routeOptions.url ?? '')) {
      return sendErrorPage(reply, 503, 'error.unavailable.title', 'error.unavailable.message')
    }
    const error = new ServiceUnavailable('the service is temporarily unavailable; retry later')
    return reply.code(error.statusCode).send({ error: error.error, error_description: error.description })
  }

  app.setErrorHandler((err: FastifyError | OAuthError, request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    if (err instanceof OAuthError) {
      request.log.info({ error: err.error, detail: err.detail ?? err.description }, 'oauth error')
      countError(err.error)
      return reply.code(err.statusCode).headers(err.headers).send({ error: err.error, error_description: err.description })
    }
    // A database outage is the client's cue to retry later (RFC 9110 §15.6.4), not a bug.
    // Classified here, once, whatever layer the error surfaced in.
    const outage = !err.validation && (err.statusCode ?? 500) >= 500 ? databaseOutageCode(err) : undefined
    countError(err.validation || (err.statusCode ?? 500) < 500 ? 'invalid_request' : outage ? 'temporarily_unavailable' : 'server_error')
    if (err.validation) {
      // Ajv's message names the field and the rule ("body/name must NOT have fewer than 1
      // characters"); it never contains the submitted value.
      return reply.code(400).send({ error: 'invalid_request', error_description: errorDescription(err.message.slice(0, 200)) })
    }
    if (outage) return unavailable(err, outage, request, reply)
    const status = err.statusCode ?? 500
    if (status >= 400 && status < 500) {
      const description = FASTIFY_CLIENT_ERRORS[err.code] ?? 'malformed request'
      // RFC 6749 §5.2: a malformed request is invalid_request with 400; too large stays 413.
      return reply.code(status === 413 ? 413 : 400).send({ error: 'invalid_request', error_description: description })
    }
    request.log.error({ err }, 'unhandled error')
    return reply.code(500).send({ error: 'server_error', error_description: 'the server encountered an unexpected error' })
  })

  // During a drain, every response closes its connection, including those of requests that were
  // already in flight when the shutdown began: otherwise their keep-alive connections would stay
  // open, idle, and hold the shutdown until the proxy happened to reuse them.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // Callback style: this runs on every response, and an async hook costs a promise each time.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  if (options.instanceTag) {
    const tag = options.instanceTag
    app.addHook('onRequest', async (_request, reply) => { reply.header('x-stamp-instance', tag) })
  }

  app.setNotFoundHandler((request, reply) => {
    countError('invalid_request')
    // The path only: never echo a query string (it may carry a token).
    const path = request.url.split('?')[0].slice(0, 200)
    reply.code(404).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: errorDescription(`no route for ${request.method} ${path}`) })
  })

  await app.register(formBody)
  await app.register(inputHygiene)
  await app.register(services, { config: options.config, database: options.database, now: options.now, databaseNow: options.databaseNow, scheduleKeys: options.scheduleKeys, fetch: options.fetch, lookup: options.lookup, clientMetadataFetch: options.clientMetadataFetch, mailTransport: options.mailTransport, federationFetch: options.federationFetch })
  await app.register(branding)
  await app.register(metrics)
  await app.register(rateLimit)
  // Before the routes: @fastify/swagger collects the schemas of the routes registered after it.
  await app.register(openAPI)
  await app.register(apiDocs)
  await app.register(tokenRoute)
  await app.register(revokeRoute)
  await app.register(introspectRoute)
  await app.register(parRoute)
  await app.register(authorizeRoute)
  await app.register(loginRoute)
  await app.register(secondFactorRoutes)
  await app.register(passkeyLoginRoutes)
  await app.register(passkeyEnrolmentRoutes)
  await app.register(federationRoutes)
  await app.register(federationLinkMailRoutes)
  await app.register(staticRoutes)
  await app.register(accountRoutes)
  await app.register(consentRoute)
  await app.register(userinfoRoute)
  await app.register(logoutRoute)
  await app.register(registerRoute)
  await app.register(deviceRoutes)
  await app.register(passwordResetRoutes)
  await app.register(emailVerificationRoutes)
  if (options.config.signup !== 'off') await app.register(signupRoutes)
  await app.register(jwksRoute)
  await app.register(discoveryRoutes)
  await app.register(adminRoutes, { prefix: ADMIN_PREFIX })
  await app.register(healthRoutes)
  await app.register(assetRoutes)
  await app.register(consoleRoutes)
  return app
}
