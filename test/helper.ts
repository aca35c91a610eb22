/**
 * Test helpers: a fresh PostgreSQL database per test file (created from the migrations), the app
 * built on it, and small factories for users and clients.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config/env.js'
import { migrate } from '../src/db/migrate.js'
import { createPrisma } from '../src/db/connection.js'
import { generateKEKValue } from '../src/crypto/kek.js'
import { generateClientSecret, hashClientSecret } from '../src/domain/client_auth.js'
import type { ClientRecord } from '../src/storage/types.js'

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

interface Teardown { teardown(fn: () => unknown): void }

/** Creates an empty database and drops it when the test ends. */
export async function createEmptyDatabase (t: Teardown, prefix = 'stamp_test'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  return ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`)
}

/**
 * A pg pool on a test database. `pool.end()` resolves before its connections' server processes
 * have exited, so the teardown's DROP DATABASE … WITH (FORCE) can still terminate one (57P01):
 * without a listener that idle-client error is thrown and fails a test that passed.
 */
export function testPool (url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max })
  pool.on('error', () => {})
  return pool
}

/** Creates an empty database, migrates it, and drops it when the test ends. */
export async function createTestDatabase (t: Teardown): Promise<string> {
  const url = await createEmptyDatabase(t)
  await migrate(url)
  return url
}

/**
 * A migrated test database with a pg pool and Prisma on it, for the stores that run statements on
 * the pool: `spy` stands in for the pool and records each statement's text in `seen`.
 */
export async function spiedStoreDatabase (t: Teardown, max = 2) {
  const url = await createTestDatabase(t)
  const pool = testPool(url, max)
  const prisma = createPrisma({ url, poolMax: max }, pool)
  t.teardown(async () => { await prisma.$disconnect(); await pool.end() })
  const seen: string[] = []
  const spy = { query: async (q: { text: string, values: unknown[] }) => { seen.push(q.text); return pool.query(q) } } as unknown as pg.Pool
  return { url, pool, prisma, spy, seen }
}

/** A validated config for tests: quiet logs, a throw-away KEK, and any overrides. */
export function testConfig (databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'silent',
    KEY_ENCRYPTION_KEY: generateKEKValue(),
    KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-keys-')),
    ISSUER: 'http://stamp.test',
    ...env,
  })
}

export interface BuildOptions extends Partial<Omit<AppOptions, 'config' | 'database'>> {
  env?: Record<string, string>
  databaseUrl?: string
  config?: Config
}

/** Builds the app on a fresh database; closes it at teardown. */
export async function build (t: Teardown, options: BuildOptions = {}): Promise<FastifyInstance> {
  const url = options.databaseUrl ?? await createTestDatabase(t)
  const config = options.config ?? testConfig(url, options.env)
  const app = await buildApp({ scheduleKeys: false, ...options, config, database: { url, poolMax: 5 } })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

export interface TestClient { client: ClientRecord, secret: string | null, basic: string }

export async function createClient (app: FastifyInstance, overrides: Partial<ClientRecord> = {}): Promise<TestClient> {
  const secret = overrides.public ? null : generateClientSecret()
  const client: ClientRecord = {
    id: `client-${randomBytes(6).toString('hex')}`,
    name: 'Test client',
    secretHash: secret ? hashClientSecret(secret) : null,
    public: false,
    firstParty: false,
    grantTypes: ['client_credentials'],
    redirectUris: [],
    postLogoutRedirectUris: [],
    backchannelLogoutUri: null,
    scopes: ['read', 'write'],
    audiences: ['https://api.example.com'],
    // Off unless a test asks: most tests exercise other things with confidential clients without PKCE.
    requirePkce: false,
    ...overrides,
  }
  await app.clientStore.create(client)
  const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(secret ?? '')}`).toString('base64')
  return { client, secret, basic }
}

export async function createUser (app: FastifyInstance, username = `user-${randomBytes(4).toString('hex')}`, password = 'correct horse battery staple', scopes: string[] = []) {
  const user = await app.usersRepository.create({ username, email: `${username}@example.com`, passwordHash: await app.passwordHasher.hash(password), scopes })
  return { user, username, password }
}

/** POSTs a form to the app. */
export function postForm (app: FastifyInstance, url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(form).toString(),
  })
}

/** The password grant for `client` (first-party); throws unless it answers 200. */
export async function passwordGrant (app: FastifyInstance, client: TestClient, username: string, password: string, scope?: string) {
  const res = await postForm(app, '/token', { grant_type: 'password', username, password, ...(scope ? { scope } : {}) }, { authorization: client.basic })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json() as { access_token: string, refresh_token: string, scope: string }
}

/** The refresh grant for `client`, answered as is. */
export function refreshGrant (app: FastifyInstance, client: TestClient, refreshToken: string, extra: Record<string, string> = {}) {
  return postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, { authorization: client.basic })
}

/**
 * An administrator as the bootstrap makes one: a user with the stamp:admin scope and a
 * first-party password client allowed that scope; returns a fresh admin access token.
 */
export async function createAdmin (app: FastifyInstance, options: { remoteAddress?: string } = {}) {
  const { user, username, password } = await createUser(app, `admin-${randomBytes(4).toString('hex')}`, 'a long admin passphrase 1', ['stamp:admin'])
  const console = await createClient(app, { name: 'admin-console', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['stamp:admin'], audiences: [] })
  const res = await app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress: options.remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: console.basic },
    payload: new URLSearchParams({ grant_type: 'password', username, password, scope: 'stamp:admin' }).toString(),
  })
  if (res.statusCode !== 200) throw new Error(`admin login failed: ${res.body}`)
  const { access_token: accessToken, refresh_token: refreshToken } = res.json()
  return { user, username, password, console, accessToken: accessToken as string, refreshToken: refreshToken as string, authorization: `Bearer ${accessToken}` }
}

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Whether the test Redis answers; Redis-backed tests are skipped (not failed) without one. */
export async function redisAvailable (): Promise<boolean> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null })
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}
