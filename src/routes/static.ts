/**
 * Static scripts of the hosted pages (the pages' CSP allows scripts from 'self' only, never
 * inline): Stamp's passkey glue, the @simplewebauthn/browser bundle it drives, and the address
 * of pages sent as the answer to a POST (assets/page_address.js). Read once at boot, served with a
 * strong ETag and a day of caching.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'

export const STATIC_PREFIX = '/static'
export const SCRIPTS = {
  webauthn: `${STATIC_PREFIX}/webauthn.js`,
  simpleWebAuthn: `${STATIC_PREFIX}/simplewebauthn-browser.js`,
  pageAddress: `${STATIC_PREFIX}/page-address.js`,
} as const

/** The passkey pages load both, the library first. */
export const PASSKEY_SCRIPTS = [SCRIPTS.simpleWebAuthn, SCRIPTS.webauthn]

function bundlePath (): string {
  const require = createRequire(import.meta.url)
  // The package's UMD build (its `unpkg` entry; exposes window.SimpleWebAuthnBrowser), beside its
  // CommonJS entry `script/index.js` (the package exports no other subpath).
  return join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js')
}

export default async function staticRoutes (app: FastifyInstance) {
  const files: Record<string, Buffer> = {
    [SCRIPTS.webauthn]: readFileSync(new URL('../../assets/webauthn.js', import.meta.url)),
    [SCRIPTS.simpleWebAuthn]: readFileSync(bundlePath()),
    [SCRIPTS.pageAddress]: readFileSync(new URL('../../assets/page_address.js', import.meta.url)),
  }
  for (const [path, content] of Object.entries(files)) {
    const etag = `"${createHash('sha256').update(content).digest('base64url').slice(0, 27)}"`
    app.get(path, { logLevel: 'warn' }, async (request, reply) => {
      reply.header('etag', etag).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff')
      if (request.headers['if-none-match'] === etag) return reply.code(304).send()
      return reply.type('text/javascript; charset=utf-8').send(content)
    })
  }
}
