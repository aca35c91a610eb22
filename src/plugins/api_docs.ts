/**
 * The OpenAPI document of every route with a schema (the admin API) at `/docs/json`, and the
 * Swagger UI at `/docs` only when `API_DOCS=true`.
 *
 * The UI is a megabyte of third-party script served on the origin that also hosts the login
 * form: a compromise of that bundle could read what users type there. So it is off by default,
 * and when on, every `/docs` response carries a CSP that allows only this origin's own scripts,
 * styles and fetches (no inline script, no third-party host, no validator badge) and that no page
 * may frame (`frame-ancestors 'none'`, plus `X-Frame-Options` for older browsers).
 *
 * @module
 */
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUI from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

export const DOCS_PREFIX = '/docs'

const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // The one <style> element swagger-ui-bundle injects, by hash (test/app/api_docs.test.ts
  // loads the UI in Chromium and fails on any CSP violation, so an upgrade that changes it shows).
  "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Registers @fastify/swagger (it must see every route, so before the routes). */
export const openAPI = fp(async function openAPIPlugin (app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Stamp', version: '0.1.0', description: 'Stamp admin API: Bearer access tokens with the stamp:admin scope (see docs/admin.md).' },
      servers: [{ url: app.config.issuer }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  })
}, { name: 'openapi', dependencies: ['services'] })

/** The document at /docs/json, and the UI when enabled. Not fastify-plugin: its hooks stay on /docs. */
export async function apiDocs (app: FastifyInstance): Promise<void> {
  if (!app.config.apiDocs) {
    app.get(`${DOCS_PREFIX}/json`, { schema: { hide: true } }, async (_request, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()))
    return
  }
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-frame-options', 'DENY').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
    done(null, payload)
  })
  // staticCSP replaces the plugin's own default (which allows any https: style and frame-ancestors 'self').
  await app.register(swaggerUI, { routePrefix: DOCS_PREFIX, staticCSP: DOCS_CSP, validatorUrl: false })
}
