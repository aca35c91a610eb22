/**
 * Request rate limits: 429 with Retry-After and an RFC 6749 body, per IP, on /token and /admin;
 * in memory and on Redis (shared between two app instances).
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createTestDatabase, redisAvailable, testConfig, TEST_REDIS_URL as REDIS_URL } from '../helper.js'

function token (app: FastifyInstance, authorization: string, remoteAddress = '198.51.100.7') {
  return app.inject({
    method: 'POST', url: '/token', remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    payload: 'grant_type=client_credentials',
  })
}

t.test('in memory: /token and /admin', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_TOKEN_MAX: '3', RATE_LIMIT_ADMIN_MAX: '2', RATE_LIMIT_WINDOW: '60' } })
  const { basic } = await createClient(app)
  for (let i = 0; i < 3; i++) t.equal((await token(app, basic)).statusCode, 200)
  const limited = await token(app, basic)
  t.equal(limited.statusCode, 429)
  t.strictSame(Object.keys(limited.json()).sort(), ['error', 'error_description'])
  t.equal(limited.json().error, 'temporarily_unavailable')
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds')
  t.equal(limited.headers['cache-control'], 'no-store')
  t.equal((await token(app, basic, '198.51.100.8')).statusCode, 200, 'another IP has its own budget')

  const admin = () => app.inject({ method: 'GET', url: '/admin/keys', remoteAddress: '198.51.100.9' })
  t.equal((await admin()).statusCode, 401)
  t.equal((await admin()).statusCode, 401)
  const adminLimited = await admin()
  t.equal(adminLimited.statusCode, 429, 'unauthenticated floods of /admin are limited too')
  t.ok(adminLimited.headers['retry-after'])
  t.equal((await app.inject('/jwks')).statusCode, 200, 'JWKS is not rate limited')
})

t.test('RATE_LIMIT_ENABLED=false turns it off', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_TOKEN_MAX: '1' } })
  const { basic } = await createClient(app)
  for (let i = 0; i < 3; i++) t.equal((await token(app, basic)).statusCode, 200)
})

t.test('Redis: two instances share one budget', { skip: await redisAvailable() ? false : `no Redis at ${REDIS_URL}` }, async (t) => {
  const url = await createTestDatabase(t)
  const env = { RATE_LIMIT_TOKEN_MAX: '4', REDIS_URL }
  const config = testConfig(url, env) // one KEK for both instances
  const one = await build(t, { databaseUrl: url, config })
  const two = await build(t, { databaseUrl: url, config })
  const { basic } = await createClient(one)
  const ip = `203.0.113.${randomBytes(1)[0]}`
  t.teardown(async () => { // leave Redis clean for the next run
    const { Redis } = await import('ioredis')
    const redis = new Redis(REDIS_URL)
    const keys = await redis.keys('stamp:rate-limit:*')
    if (keys.length) await redis.del(...keys)
    await redis.quit()
  })
  const statuses = []
  for (let i = 0; i < 6; i++) statuses.push((await token(i % 2 ? two : one, basic, ip)).statusCode)
  t.strictSame(statuses, [200, 200, 200, 200, 429, 429])
})
