/**
 * The Stamp application: plugins, then routes, and one error handler that speaks RFC 6749.
 * `server.ts` listens; tests build this directly and use `inject`.
 *
 * @module
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import { randomUUID } from 'node:crypto'
import { OAuthError } from './errors.js'
import type { Config } from './config/env.js'
import formBody from './plugins/form_body.js'
import services from './plugins/services.js'
import tokenRoute from './routes/oauth/token.js'
import revokeRoute from './routes/oauth/revoke.js'
import introspectRoute from './routes/oauth/introspect.js'
import authorizeRoute from './routes/oauth/authorize.js'
import loginRoute from './routes/oauth/login.js'
import consentRoute from './routes/oauth/consent.js'
import userinfoRoute from './routes/oauth/userinfo.js'
import logoutRoute from './routes/oauth/logout.js'
import jwksRoute from './routes/well_known/jwks.js'
import discoveryRoutes from './routes/well_known/discovery.js'

export interface AppOptions {
  config: Config
  database: { url: string, poolMax: number }
  loggerInstance?: FastifyBaseLogger
  now?: () => Date
  scheduleKeys?: boolean
  /** HTTP client for back-channel logout deliveries (tests may inject one). */
  fetch?: typeof fetch
}

/** Safe descriptions for Fastify's own client errors: never echo internal messages. */
const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'request body is too large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'request body is not valid JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'content-length does not match the body',
}

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.loggerInstance,
    genReqId: () => randomUUID(),
    trustProxy: options.config.trustProxy,
    bodyLimit: options.config.policy.bodyLimit,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false },
  })

  app.setErrorHandler((err: FastifyError | OAuthError, request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    if (err instanceof OAuthError) {
      request.log.info({ error: err.error, detail: err.detail ?? err.description }, 'oauth error')
      return reply.code(err.statusCode).headers(err.headers).send({ error: err.error, error_description: err.description })
    }
    if (err.validation) {
      return reply.code(400).send({ error: 'invalid_request', error_description: `invalid ${err.validationContext ?? 'request'}` })
    }
    const status = err.statusCode ?? 500
    if (status >= 400 && status < 500) {
      const description = FASTIFY_CLIENT_ERRORS[err.code] ?? 'malformed request'
      // RFC 6749 §5.2: a malformed request is invalid_request with 400; too large stays 413.
      return reply.code(status === 413 ? 413 : 400).send({ error: 'invalid_request', error_description: description })
    }
    request.log.error({ err }, 'unhandled error')
    return reply.code(500).send({ error: 'server_error', error_description: 'the server encountered an unexpected error' })
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: `no route for ${request.method} ${request.url.split('?')[0]}` })
  })

  await app.register(formBody)
  await app.register(services, { config: options.config, database: options.database, now: options.now, scheduleKeys: options.scheduleKeys, fetch: options.fetch })
  await app.register(tokenRoute)
  await app.register(revokeRoute)
  await app.register(introspectRoute)
  await app.register(authorizeRoute)
  await app.register(loginRoute)
  await app.register(consentRoute)
  await app.register(userinfoRoute)
  await app.register(logoutRoute)
  await app.register(jwksRoute)
  await app.register(discoveryRoutes)
  return app
}
