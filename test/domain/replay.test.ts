/**
 * Proof identifiers on Redis with PostgreSQL as the fallback (domain/replay.ts): real Redis when
 * it answers (skipped otherwise), and through the app: a proof replayed to a second instance is
 * refused by Redis, and with Redis unreachable both instances fall back to the shared table.
 *
 * @module
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { FallbackReplayStore, RedisReplayStore } from '../../src/domain/replay.js'
import type { ReplayStore } from '../../src/storage/types.js'
import { build, createClient, createTestDatabase, postForm, redisAvailable, testConfig, TEST_REDIS_URL } from '../helper.js'
import { dpopKey, proof } from '../fixtures/dpop.js'
import { assertion, clientKey, jwksOf } from '../fixtures/client_keys.js'
import { JWT_BEARER_ASSERTION } from '../../src/domain/client_assertion.js'

const hasRedis = await redisAvailable()

t.test('RedisReplayStore: first use true, a replay false, until it expires', { skip: !hasRedis && 'no Redis' }, async (t) => {
  const redis = new Redis(TEST_REDIS_URL)
  t.teardown(() => redis.disconnect())
  const store = new RedisReplayStore(redis, `stamp-test:${randomUUID()}:`)
  const now = new Date()
  t.equal(await store.markUsed('dpop:k', 'a', new Date(now.getTime() + 200), now), true)
  t.equal(await store.markUsed('dpop:k', 'a', new Date(now.getTime() + 200), now), false, 'replay')
  t.equal(await store.markUsed('dpop:other', 'a', new Date(now.getTime() + 200), now), true, 'namespaced')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(await store.markUsed('dpop:k', 'a', new Date(Date.now() + 200), new Date()), true, 'expired')
})

t.test('FallbackReplayStore: the fallback while the shared store is down or failing', async (t) => {
  const calls: string[] = []
  const recorder = (name: string, result: boolean | Error): ReplayStore => ({
    async markUsed () { calls.push(name); if (result instanceof Error) throw result; return result },
  })
  const errors: unknown[] = []
  let up = true
  const store = new FallbackReplayStore(recorder('shared', true), recorder('fallback', false), () => up, (err) => errors.push(err))
  const args = ['n', 'j', new Date(), new Date()] as const
  t.equal(await store.markUsed(...args), true)
  up = false
  t.equal(await store.markUsed(...args), false)
  t.same(calls, ['shared', 'fallback'])
  const failing = new FallbackReplayStore(recorder('broken', new Error('ECONNRESET')), recorder('fallback', true), () => true, (err) => errors.push(err))
  t.equal(await failing.markUsed(...args), true, 'answered by the fallback')
  t.equal(errors.length, 1, 'the failure is reported')
})

t.test('two instances with Redis: the replay is caught; Redis unreachable: the table catches it', { skip: !hasRedis && 'no Redis' }, async (t) => {
  const key = await dpopKey()
  const htu = 'http://stamp.test/token'
  for (const redisUrl of [TEST_REDIS_URL, 'redis://127.0.0.1:1']) {
    const url = await createTestDatabase(t)
    const config = testConfig(url, { REDIS_URL: redisUrl })
    const a = await build(t, { databaseUrl: url, config })
    const b = await build(t, { databaseUrl: url, config })
    const service = await createClient(a, { grantTypes: ['client_credentials'], scopes: ['read'] })
    const once = await proof(key, { htu })
    const cc = (app: typeof a) => postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic, dpop: once })
    t.equal((await cc(a)).statusCode, 200, `${redisUrl}: first use`)
    const replay = await cc(b)
    t.equal(replay.statusCode, 400, `${redisUrl}: the replay on the other instance`)
    t.equal(replay.json().error, 'invalid_dpop_proof')
    const rows = await a.dbPool.query('SELECT count(*)::int AS n FROM used_jtis')
    t.equal(rows.rows[0].n, redisUrl === TEST_REDIS_URL ? 0 : 1, redisUrl === TEST_REDIS_URL ? 'Redis held it, not the table' : 'the table held it')
  }
})

t.test('client assertions (private_key_jwt) go through the same store: a replay to another instance is refused by Redis', { skip: !hasRedis && 'no Redis' }, async (t) => {
  const key = await clientKey()
  for (const redisUrl of [TEST_REDIS_URL, 'redis://127.0.0.1:1']) {
    const url = await createTestDatabase(t)
    const config = testConfig(url, { REDIS_URL: redisUrl })
    const a = await build(t, { databaseUrl: url, config })
    const b = await build(t, { databaseUrl: url, config })
    const { client } = await createClient(a, { secretHash: null, tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(key), grantTypes: ['client_credentials'], scopes: ['read'] })
    const once = await assertion(key, client.id, config.issuer)
    const cc = (app: typeof a) => postForm(app, '/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: once })
    t.equal((await cc(a)).statusCode, 200, `${redisUrl}: first use`)
    const replay = await cc(b)
    t.equal(replay.statusCode, 401, `${redisUrl}: the replay on the other instance`)
    t.equal(replay.json().error, 'invalid_client')
    const rows = await a.dbPool.query('SELECT count(*)::int AS n FROM used_jtis')
    t.equal(rows.rows[0].n, redisUrl === TEST_REDIS_URL ? 0 : 1, redisUrl === TEST_REDIS_URL ? 'Redis held it, not the table' : 'the table held it')
  }
})
