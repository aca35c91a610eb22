/**
 * The console's API contract stays the admin API's: the committed OpenAPI document and the
 * TypeScript types every console call is typed with equal what the code generates now
 * (`npm run console:api` rewrites them). And the built console stays within its size budget.
 */
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { API_DIR, generateConsoleAPI } from '../../scripts/console_api.js'
import { consoleBuildDir } from '../../src/routes/console/assets.js'

t.test('committed OpenAPI document and types are current', async (t) => {
  const { openapi, types } = await generateConsoleAPI()
  t.equal(readFileSync(join(API_DIR, 'openapi.json'), 'utf8'), openapi, 'console/src/api/openapi.json is current (npm run console:api)')
  t.equal(readFileSync(join(API_DIR, 'schema.d.ts'), 'utf8'), types, 'console/src/api/schema.d.ts is current (npm run console:api)')
  const paths = Object.keys(JSON.parse(openapi).paths)
  for (const path of ['/admin/overview', '/admin/config', '/admin/sessions', '/admin/keys', '/admin/audit-events']) t.ok(paths.includes(path), path)
})

t.test('the first load stays within 300 KB gzip, as the build reported', async (t) => {
  const dir = consoleBuildDir()
  if (!existsSync(join(dir, 'budget.json'))) return t.fail('the console is not built: npm run build')
  const html = readFileSync(join(dir, 'index.html'), 'utf8')
  const files = ['index.html', ...[...html.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1])]
  const total = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(dir, file)), { level: 9 }).length, 0)
  const report = JSON.parse(readFileSync(join(dir, 'budget.json'), 'utf8'))
  t.equal(report.first_load_gzip_bytes, total, 'the build\'s report matches the files')
  t.ok(total <= 300 * 1024, `${(total / 1024).toFixed(1)} KB ≤ 300 KB`)
  t.ok(files.some((f) => f.endsWith('.js')) && files.some((f) => f.endsWith('.css')), 'script and stylesheet counted')
})
