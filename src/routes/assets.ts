/**
 * Static files of the hosted pages under `/assets/` (stylesheet, scripts, logo), from memory:
 * they were read and versioned at boot (plugins/branding.ts). Links carry `?v=<hash>`, so the
 * files are cacheable for a year (immutable); a conditional request gets 304.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'

export default async function assetRoutes (app: FastifyInstance) {
  app.get<{ Params: { name: string } }>('/assets/:name', { logLevel: 'warn' }, async (request, reply) => {
    const file = app.branding.assets.get(request.params.name)
    if (!file) {
      return reply.code(404).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'no such asset' })
    }
    const etag = `"${file.etag}"`
    reply
      .header('etag', etag)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('cross-origin-resource-policy', 'same-origin')
      // An SVG logo opened directly must not run script.
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
    if (request.headers['if-none-match'] === etag) return reply.code(304).send()
    return reply.type(file.type).send(file.body)
  })
}
