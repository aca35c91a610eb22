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
