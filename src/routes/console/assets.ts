/**
 * The console's compiled files (dist/console, written by `vite build`), read once at boot into
 * memory with a gzip copy each: a few hundred kilobytes, served without touching the disk again.
 *
 * @module
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'

export interface ConsoleAsset {
  body: Buffer
  gzip: Buffer
  type: string
  etag: string
  /** Vite names every file under assets/ by its content hash: cached forever. */
  immutable: boolean
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
}

/**
 * Where the build put the console: next to the compiled server (dist/console when running
 * dist/), or dist/console from the source tree (tests and tsx).
 */
export function consoleBuildDir (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, '../../console'), join(here, '../../../dist/console')]
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[candidates.length - 1]
}

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
}

/** URL path (relative to /console/) → asset; empty when the console was not built. */
export function loadConsoleAssets (dir = consoleBuildDir()): Map<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>()
  if (!existsSync(join(dir, 'index.html'))) return assets
  for (const path of walk(dir)) {
    const name = relative(dir, path).split(sep).join('/')
    const type = TYPES[extname(name)]
    if (!type) continue
    const body = readFileSync(path)
    assets.set(name, {
      body,
      gzip: gzipSync(body, { level: 9 }),
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      immutable: name.startsWith('assets/'),
    })
  }
  return assets
}
