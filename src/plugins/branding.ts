/**
 * The hosted pages' static files and branding, built once at boot: every file of
 * `assets/pages/` (stylesheet, scripts) plus the logo file, with the brand colour appended to
 * the stylesheet. Decorates `app.branding`; `routes/assets.ts` serves the files.
 *
 * A page links a file by {@link assetPath}, versioned by its content hash, so the files can be
 * cached for a year and a new brand colour or release is fetched at once.
 *
 * @module
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { asset, buildBranding, LOGO_TYPES, type Branding } from '../domain/branding.js'

declare module 'fastify' {
  interface FastifyInstance {
    branding: Branding
  }
}

/** Resolves from src/plugins and dist/plugins alike. */
const PAGE_ASSETS = fileURLToPath(new URL('../../assets/pages/', import.meta.url))

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2',
}

export default fp(async function branding (app: FastifyInstance) {
  const { brand } = app.config
  let logoFile: { body: Buffer, type: string } | undefined
  if (brand.logoFile) {
    try {
      logoFile = { body: readFileSync(brand.logoFile), type: LOGO_TYPES[extname(brand.logoFile).toLowerCase()] }
    } catch (err) {
      throw new Error(`BRAND_LOGO_FILE cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  const built = buildBranding({ productName: brand.productName, logoUrl: brand.logoUrl, logoFile, primaryColor: brand.primaryColor },
    readFileSync(join(PAGE_ASSETS, 'stamp.css'), 'utf8'))
  for (const name of readdirSync(PAGE_ASSETS)) {
    const type = TYPES[extname(name)]
    if (!type || built.assets.has(name)) continue
    built.assets.set(name, asset(type, readFileSync(join(PAGE_ASSETS, name))))
  }
  app.decorate('branding', built)
}, { name: 'branding' })

/** The path (relative to the issuer) of a file of `assets/pages/`, versioned by its content. */
export function assetPath (branding: Branding, name: string): string {
  const file = branding.assets.get(name)
  if (!file) throw new Error(`no hosted-page asset named ${name}`)
  return `/assets/${name}?v=${file.etag}`
}
