/**
 * "The console manages everything the admin API offers" (issue 17), checked: every operation of
 * the admin API's OpenAPI document (console/src/api/openapi.json, kept current by
 * api_contract.test.ts) is called somewhere in the console's sources as `api.METHOD('/path'`.
 * A new admin route without a console page fails here.
 */
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../console/src')

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [readFileSync(path, 'utf8')] : []
  })
}

t.test('every admin operation has a caller in the console', async (t) => {
  const code = sources(SRC).join('\n')
  const document = JSON.parse(readFileSync(join(SRC, 'api/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> }
  const operations = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`))
  t.ok(operations.length > 30, `${operations.length} operations in the document`)
  const uncalled = operations.filter((op) => {
    const [method, path] = op.split(' ')
    return !code.includes(`api.${method}('${path}'`)
  })
  t.same(uncalled, [], 'no admin operation without a console caller')
})
