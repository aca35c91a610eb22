/**
 * Issue 11 item 11, existing users: the migration adds the normalized-username key and backfills
 * it; users that differ only in case keep signing in (the oldest by any case, the others by their
 * exact name); non-ASCII usernames are keyed at start-up.
 */
import t from 'tap'
import { cpSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { build, createClient, createEmptyDatabase, postForm } from '../helper.js'
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js'
import { PasswordHasher } from '../../src/domain/passwords.js'
import { defaults } from '../../src/config/defaults.js'

const MIGRATION = '20261201040000_username_key'

t.test('username keys for existing users', async (t) => {
  const url = await createEmptyDatabase(t)
  const before = mkdtempSync(join(tmpdir(), 'stamp-migrations-'))
  for (const name of readdirSync(MIGRATIONS_DIR)) if (name < MIGRATION) cpSync(join(MIGRATIONS_DIR, name), join(before, name), { recursive: true })
  await migrate(url, before)

  const hash = await new PasswordHasher(defaults.argon2).hash('legacy password 1')
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const insert = (username: string, at: string) => db.query(
    "INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, now()) RETURNING id", [username, hash, at])
  await insert('Bob', '2026-01-01T00:00:00Z')
  await insert('bob', '2026-02-01T00:00:00Z')
  await insert('Zoë', '2026-01-01T00:00:00Z')
  await insert('Jose\u0301', '2026-01-01T00:00:00Z')

  const result = await migrate(url)
  t.same(result.applied.filter((n) => n >= MIGRATION).slice(0, 1), [MIGRATION])
  const keys = async () => Object.fromEntries((await db.query('SELECT username, username_key FROM users')).rows.map((r) => [r.username, r.username_key]))
  t.same(await keys(), { Bob: 'bob', bob: null, 'Zoë': null, 'Jose\u0301': null }, 'ASCII keyed in SQL, the oldest of a clash wins')

  const app = await build(t, { databaseUrl: url, env: { RATE_LIMIT_ENABLED: 'false' } })
  t.same(await keys(), { Bob: 'bob', bob: null, 'Zoë': 'zoë', 'Jose\u0301': 'jos\u00e9' }, 'the rest keyed at start-up')

  const pw = await createClient(app, { firstParty: true, grantTypes: ['password'], scopes: [] })
  const subject = async (username: string) => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password: 'legacy password 1' }, { authorization: pw.basic })
    if (res.statusCode !== 200) return res.statusCode
    return (await db.query('SELECT username FROM users WHERE id = $1', [JSON.parse(Buffer.from(res.json().access_token.split('.')[1], 'base64url').toString()).sub])).rows[0].username
  }
  t.equal(await subject('BOB'), 'Bob')
  t.equal(await subject('Bob'), 'Bob')
  t.equal(await subject('bob'), 'bob', 'the clashing legacy user still signs in by exact name')
  t.equal(await subject('ZOË'), 'Zoë')
  t.equal(await subject('jos\u00e9'), 'Jose\u0301')
})
