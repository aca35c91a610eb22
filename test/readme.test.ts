import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { configTable } from '../scripts/config_table.js'
import { ROOT } from './fixtures/process.js'

t.test('the README configuration table matches the env schema', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const match = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)
  t.ok(match, 'README has the config-table markers')
  t.equal(match![1], configTable(), 'run `npm run docs:config` and paste the table into the README')
})

t.test('the README states the supported Node.js lines, as package.json#engines does', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## What it serves'))
  t.match(quickStart, /Node\.js 22 or 24/)
  t.match(quickStart, /npx stamp init/, 'the quick start creates the administrator with stamp init')
  for (const file of ['package.json', 'packages/verifier/package.json']) {
    t.equal(JSON.parse(readFileSync(join(ROOT, file), 'utf8')).engines.node, '>=22', `${file} engines`)
  }
})

t.test('the README CLI reference lists every command the CLI knows', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const reference = readme.slice(readme.indexOf('## CLI'), readme.indexOf('## Development'))
  const usage = readFileSync(join(ROOT, 'src/cli/index.ts'), 'utf8')
  const commands = [...usage.matchAll(/case '([a-z]+)':/g)].map((m) => m[1])
  t.ok(commands.includes('init'))
  for (const command of commands) t.match(reference, new RegExp(`^stamp ${command}\\b`, 'm'), `stamp ${command} is documented`)
  t.match(reference, /^stamp --version/m)
})
