/**
 * The admin API, mounted under /admin as one encapsulated plugin with its own authentication
 * (./auth.ts), its own rate limit, its own strict validator and JSON as the only body type, so it
 * can later be served on a separate listener unchanged.
 *
 * Every route has JSON schemas (src/schemas/admin.ts) for its input and output. Lists are paged
 * with `?limit&cursor`: a response's `next_cursor` fetches the next page (null on the last).
 * Every change is written to the audit trail with the acting admin's `sub`.
 *
 * @module
 */
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import { adminAuth } from './auth.js'
import clientRoutes from './clients.js'
import userRoutes from './users.js'
import familyRoutes from './families.js'
import sessionRoutes from './sessions.js'
import keyRoutes from './keys.js'
import auditRoutes from './audit.js'
import accountMailRoutes from './account_mail.js'
import userFactorRoutes from './user_factors.js'
import userIdentityRoutes from './user_identities.js'
import overviewRoutes from './overview.js'
import configRoutes from './config.js'
import identityProviderRoutes from './identity_providers.js'

export const ADMIN_PREFIX = '/admin'

export default async function adminRoutes (app: FastifyInstance): Promise<void> {
  // Fastify's default Ajv strips unknown properties; here an unknown property is an error, and
  // JSON bodies are not coerced ("1" is not 1). Query strings and path parameters are strings
  // on the wire, so they are coerced.
  const strict = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const
  const bodyAjv = new Ajv({ ...strict, coerceTypes: false })
  const stringAjv = new Ajv({ ...strict, coerceTypes: 'array' })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : stringAjv).compile(schema))

  // JSON only: the form and text parsers the OAuth endpoints use do not apply here (415).
  app.removeContentTypeParser(['application/x-www-form-urlencoded', 'text/plain'])

  // Rate limit first, so floods of unauthenticated requests are limited as well.
  if (app.rateLimits.admin) app.addHook('onRequest', app.rateLimit(app.rateLimits.admin))
  await adminAuth(app)

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store')
    return payload
  })

  await app.register(clientRoutes)
  await app.register(userRoutes)
  await app.register(familyRoutes)
  await app.register(sessionRoutes)
  await app.register(keyRoutes)
  await app.register(auditRoutes)
  await app.register(accountMailRoutes)
  await app.register(userFactorRoutes)
  await app.register(userIdentityRoutes)
  await app.register(overviewRoutes)
  await app.register(configRoutes)
  await app.register(identityProviderRoutes)
}
