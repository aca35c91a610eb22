/**
 * Migration applier, interchangeable with `prisma migrate deploy`.
 *
 * Same history table, checksums and advisory lock key as Prisma's engine (prisma-engines
 * `sql_migration_persistence.rs`), so either tool may apply the folder. Stricter than Prisma:
 * each migration runs in one transaction with its history row, an edited applied migration is
 * refused, and a non-empty schema without history is refused.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

/** prisma-engines' advisory lock key for migrations. */
const PRISMA_MIGRATION_LOCK = 72707369

export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../prisma/migrations')

export interface MigrationResult { applied: string[], total: number }

interface Migration { name: string, sql: string, checksum: string }

export function readMigrations (dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8')
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') }
    })
}

export async function migrate (connectionString: string, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const migrations = readMigrations(dir)
  const client = new pg.Client({ connectionString })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATION_LOCK])
    try {
      return await applyPending(client, migrations)
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATION_LOCK])
    }
  } finally {
    await client.end()
  }
}

async function applyPending (client: pg.Client, migrations: Migration[]): Promise<MigrationResult> {
  const { rows: [{ exists }] } = await client.query(
    "SELECT to_regclass('_prisma_migrations') IS NOT NULL AS exists")
  if (!exists) {
    const { rows: [{ count }] } = await client.query(
      "SELECT count(*)::int AS count FROM pg_tables WHERE schemaname = current_schema()")
    if (count > 0) throw new Error('database schema is not empty and has no migration history; refusing to migrate')
    await client.query(`CREATE TABLE "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`)
  }
  const { rows } = await client.query<{ migration_name: string, checksum: string, finished_at: Date | null }>(
    'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL')
  const done = new Map(rows.map((row) => [row.migration_name, row]))
  const applied: string[] = []
  for (const migration of migrations) {
    const previous = done.get(migration.name)
    if (previous) {
      if (!previous.finished_at) throw new Error(`migration ${migration.name} failed earlier; resolve it before migrating`)
      if (previous.checksum !== migration.checksum) throw new Error(`migration ${migration.name} was edited after it was applied`)
      continue
    }
    await client.query('BEGIN')
    try {
      const id = randomUUID()
      await client.query(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ($1, $2, $3)',
        [id, migration.checksum, migration.name])
      await client.query(migration.sql)
      await client.query(
        'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id])
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK')
      throw new Error(`migration ${migration.name} failed: ${(err as Error).message}`, { cause: err })
    }
    applied.push(migration.name)
  }
  return { applied, total: migrations.length }
}
