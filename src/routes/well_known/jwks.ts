/**
 * JWKS endpoint (RFC 7517 §5), served from memory: the keyring keeps the serialized set and its
 * ETag, so a request costs a header comparison and a write.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'

export default async function jwksRoute (app: FastifyInstance) {
  const cacheControl = `public, max-age=${app.config.policy.jwksMaxAge}`
  // logLevel warn: a JWKS fetch is routine; logging each one would cost more than serving it.
  app.get('/jwks', { logLevel: 'warn' }, async (request, reply) => {
    const { body, etag } = app.keyring.jwks()
    reply.header('cache-control', cacheControl).header('etag', etag).header('access-control-allow-origin', '*')
    if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send()
    return reply.type('application/jwk-set+json; charset=utf-8').send(body)
  })
}

/**
 * RFC 9110 §13.1.2: If-None-Match is `*` or a list of entity tags, compared weakly (a `W/` prefix
 * is ignored), so a cache that holds several variants or weakens the tag still gets its 304.
 */
function matches (header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t.replace(/^W\//, '') === etag
  })
}
