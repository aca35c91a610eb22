import t from 'tap'
import { cpSync, mkdtempSync, writeFileSync, mkdirSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../src/db/migrate.js'
import { createEmptyDatabase } from '../helper.js'

async function query (url: string, sql: string) {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try { return (await c.query(sql)).rows } finally { await c.end() }
}

t.test('four concurrent appliers apply each migration exactly once', async (t) => {
  const url = await createEmptyDatabase(t, 'stamp_mig')
  const results = await Promise.all([1, 2, 3, 4].map(() => migrate(url)))
  const total = readMigrations().length
  t.equal(results.reduce((n, r) => n + r.applied.length, 0), total)
  const rows = await query(url, 'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name')
  t.equal(rows.length, total)
  t.ok(rows.every((r) => r.finished_at && r.applied_steps_count === 1 && /^[0-9a-f]{64}$/.test(r.checksum)))
  t.same((await migrate(url)).applied, [], 'nothing pending afterwards')
})

t.test('an applied migration that was edited is refused', async (t) => {
  const url = await createEmptyDatabase(t, 'stamp_mig')
  await migrate(url)
  const dir = mkdtempSync(join(tmpdir(), 'stamp-mig-'))
  cpSync(MIGRATIONS_DIR, dir, { recursive: true })
  const first = readMigrations(dir)[0].name
  appendFileSync(join(dir, first, 'migration.sql'), '\n-- edited\n')
  await t.rejects(migrate(url, dir), /was edited after it was applied/)
})

t.test('a failing migration rolls back completely', async (t) => {
  const url = await createEmptyDatabase(t, 'stamp_mig')
  const dir = mkdtempSync(join(tmpdir(), 'stamp-mig-'))
  cpSync(MIGRATIONS_DIR, dir, { recursive: true })
  mkdirSync(join(dir, '29991231000000_broken'))
  writeFileSync(join(dir, '29991231000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n')
  await t.rejects(migrate(url, dir), /29991231000000_broken failed/)
  t.same(await query(url, "SELECT to_regclass('half_done') AS t"), [{ t: null }], 'its DDL was rolled back')
  t.same(await query(url, "SELECT count(*)::int AS n FROM _prisma_migrations WHERE migration_name = '29991231000000_broken'"), [{ n: 0 }], 'no history row')
  t.equal((await query(url, 'SELECT count(*)::int AS n FROM _prisma_migrations'))[0].n, readMigrations().length, 'the good ones stayed applied')
})

t.test('a non-empty schema without migration history is refused', async (t) => {
  const url = await createEmptyDatabase(t, 'stamp_mig')
  await query(url, 'CREATE TABLE somebody_elses (id int)')
  await t.rejects(migrate(url), /not empty and has no migration history/)
})
