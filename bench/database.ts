/**
 * The bench's throw-away database: created on the local PostgreSQL, migrated with Stamp's own
 * applier, seeded with the clients and the user the scenarios need, and dropped afterwards.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { defaults } from '../src/config/defaults.js'
import { migrate } from '../src/db/migrate.js'
import { generateClientSecret, hashClientSecret } from '../src/domain/client_auth.js'
import { PasswordHasher } from '../src/domain/passwords.js'

export const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

export interface BenchDatabase { name: string, url: string, drop(): Promise<void> }

export async function createDatabase (): Promise<BenchDatabase> {
  const name = `stamp_bench_${randomBytes(6).toString('hex')}`
  await adminQuery(`CREATE DATABASE ${name}`)
  const url = ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`)
  let dropped = false
  return {
    name,
    url,
    async drop () {
      if (dropped) return
      dropped = true
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    },
  }
}

async function adminQuery (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

export interface Credentials { id: string, secret: string, basic: string }

export interface Seed {
  /** Confidential client allowed client_credentials only. */
  service: Credentials
  /** First-party confidential client allowed password and refresh_token. */
  app: Credentials
  user: { username: string, password: string }
}

/** Migrates the database and writes the seed rows directly (the same shapes as test/helper.ts). */
export async function migrateAndSeed (url: string): Promise<Seed> {
  await migrate(url)
  const service = credentials('bench-service')
  const app = credentials('bench-app')
  const user = { username: 'bench-user', password: 'correct horse battery staple' }
  const passwordHash = await new PasswordHasher(defaults.argon2).hash(user.password)

  const db = new pg.Client({ connectionString: url })
  await db.connect()
  try {
    const insertClient = `INSERT INTO clients (client_id, name, secret_hash, public, first_party, grant_types, scopes, audiences, updated_at)
      VALUES ($1, $2, $3, false, $4, $5, $6, $7, now())`
    await db.query(insertClient, [service.id, 'Bench service', hashClientSecret(service.secret), false,
      ['client_credentials'], ['read', 'write'], ['https://api.example.com']])
    await db.query(insertClient, [app.id, 'Bench first-party app', hashClientSecret(app.secret), true,
      ['password', 'refresh_token'], ['read', 'write'], ['https://api.example.com']])
    await db.query(`INSERT INTO users (id, username, email, password_hash, scopes, updated_at) VALUES ($1, $2, $3, $4, $5, now())`,
      [randomUUID(), user.username, `${user.username}@example.com`, passwordHash, ['read', 'write']])
  } finally {
    await db.end()
  }
  return { service, app, user }
}

function credentials (id: string): Credentials {
  const secret = generateClientSecret()
  // RFC 6749 §2.3.1: form-urlencode id and secret before joining them for Basic.
  const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')
  return { id, secret, basic }
}
