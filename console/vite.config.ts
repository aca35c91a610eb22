/**
 * Builds the admin console (Preact) into dist/console with content-hashed file names under
 * /console/, and reports the first load's size against its budget: index.html plus every script
 * and stylesheet it references, gzip-compressed as Stamp serves them. Over budget fails the
 * build. The report is also written to dist/console/budget.json (test/console/assets.test.ts
 * checks it against the files).
 *
 * @module
 */
import { defineConfig, type Plugin } from 'vite'
import { gzipSync } from 'node:zlib'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(fileURLToPath(import.meta.url))
const outDir = join(root, '../dist/console')
/** draft issue 17: the first load of /console stays under 300 KB gzip. */
export const BUDGET_BYTES = 300 * 1024

function firstLoadBudget (): Plugin {
  return {
    name: 'stamp-first-load-budget',
    apply: 'build',
    closeBundle () {
      const html = readFileSync(join(outDir, 'index.html'), 'utf8')
      const files = ['index.html', ...[...html.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1])]
      const sizes = Object.fromEntries(files.map((file) => [file, gzipSync(readFileSync(join(outDir, file)), { level: 9 }).length]))
      const total = Object.values(sizes).reduce((a, b) => a + b, 0)
      writeFileSync(join(outDir, 'budget.json'), JSON.stringify({ budget_bytes: BUDGET_BYTES, first_load_gzip_bytes: total, files: sizes }, null, 2) + '\n')
      const line = `console first load: ${(total / 1024).toFixed(1)} KB gzip of ${BUDGET_BYTES / 1024} KB budget (${files.length} files)`
      if (total > BUDGET_BYTES) throw new Error(`${line}: over budget`)
      console.log(line)
    },
  }
}

export default defineConfig({
  root,
  base: '/console/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir,
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    // Modern browsers only: no legacy polyfills, and no inline script in index.html.
    target: 'es2022',
    modulePreload: { polyfill: false },
  },
  plugins: [firstLoadBudget()],
})
