/**
 * Drift guard: the migrations folder must build the same database that Prisma's schema engine
 * builds straight from prisma/schema.prisma.
 *
 * Two throw-away databases on the local PostgreSQL: one gets every migration.sql in name
 * order, the other the engine's empty→schema script. Their catalogs (tables, columns, indexes,
 * constraints, enums) must match, so editing schema.prisma without a migration (or a migration
 * without the schema) fails here. Column order is ignored: a column added by a later migration
 * lands last, which Prisma does not count as drift either.
 *
 * @module
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { migrationDiff, readSchemaFile } from '../../scripts/migration_diff.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..')
const MIGRATIONS_DIR = join(ROOT, 'prisma/migrations')
const SCHEMA_PATH = join(ROOT, 'prisma/schema.prisma')
const SERVER_URL = process.env.STAMP_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

function databaseUrl (name: string): string {
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return url.toString()
}

async function withClient<T> (url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** One sorted line per catalog object of schema public, comparable across databases. */
async function describeCatalog (client: pg.Client): Promise<Record<string, string[]>> {
  const lines = async (sql: string): Promise<string[]> =>
    (await client.query<{ line: string }>(sql)).rows.map((row) => row.line).sort()
  return {
    tables: await lines(`
      SELECT c.relname || ' ' || c.relkind::text AS line
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`),
    columns: await lines(`
      SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
        || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
        || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
        || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
        || CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::text ELSE '' END
        AS line
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
        AND a.attnum > 0 AND NOT a.attisdropped`),
    indexes: await lines(`
      SELECT indexname || ': ' || indexdef AS line FROM pg_indexes WHERE schemaname = 'public'`),
    // NOT NULL is already in columns (and is a named constraint on PostgreSQL 18+).
    constraints: await lines(`
      SELECT co.conrelid::regclass::text || ' ' || co.conname || ': ' || pg_get_constraintdef(co.oid)
        AS line
      FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
      WHERE n.nspname = 'public' AND co.contype <> 'n'`),
    enums: await lines(`
      SELECT ty.typname || ': ' || string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder) AS line
      FROM pg_type ty
      JOIN pg_namespace n ON n.oid = ty.typnamespace
      JOIN pg_enum e ON e.enumtypid = ty.oid
      WHERE n.nspname = 'public'
      GROUP BY ty.typname`)
  }
}

function migrationScripts (): Array<{ name: string, sql: string }> {
  return readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(MIGRATIONS_DIR, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8') }))
}

t.test('migrations build the database that schema.prisma describes', async (t) => {
  const suffix = randomBytes(6).toString('hex')
  const migratedDb = `stamp_drift_${suffix}_migrations`
  const expectedDb = `stamp_drift_${suffix}_schema`
  const created: string[] = []

  t.teardown(async () => {
    await withClient(SERVER_URL, async (admin) => {
      for (const name of created) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    })
  })

  await withClient(SERVER_URL, async (admin) => {
    for (const name of [migratedDb, expectedDb]) {
      await admin.query(`CREATE DATABASE "${name}"`)
      created.push(name)
    }
  })

  const migrations = migrationScripts()
  t.ok(migrations.length > 0, 'prisma/migrations holds at least one migration')
  await withClient(databaseUrl(migratedDb), async (client) => {
    for (const migration of migrations) {
      try {
        await client.query(migration.sql)
      } catch (error) {
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`)
      }
    }
  })

  // The engine only reads through its connection; the empty database is as good as any.
  const engineSql = await migrationDiff({
    from: null,
    to: readSchemaFile(SCHEMA_PATH),
    connectionString: databaseUrl(expectedDb)
  })
  t.match(engineSql, /CREATE TABLE/, 'the engine produced a creation script')
  await withClient(databaseUrl(expectedDb), (client) => client.query(engineSql))

  const [fromMigrations, fromSchema] = await Promise.all([
    withClient(databaseUrl(migratedDb), describeCatalog),
    withClient(databaseUrl(expectedDb), describeCatalog)
  ])
  t.ok(fromSchema.tables.length > 0, 'the schema describes some tables')
  t.strictSame(fromMigrations, fromSchema,
    'migrations match schema.prisma; if not, add a migration written by ' +
    '`git show HEAD:prisma/schema.prisma > /tmp/old.prisma && npm run -s migration:diff -- --from /tmp/old.prisma`')
})
