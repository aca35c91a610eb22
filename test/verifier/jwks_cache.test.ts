/**
 * The JWKS cache under load and failure: single flight, bounded refetches for forged kids,
 * max-age + ETag revalidation, an unreachable issuer, timeouts, discovery, and rotation with a
 * pre-published next key. Served by a tiny node:http issuer; no Fastify.
 *
 * @module
 */
import t from 'tap'
import { codeOf } from '../fixtures/verifier_outcome.js'
import { randomUUID } from 'node:crypto'
import { createVerifier, JWKSCache } from '../../packages/verifier/src/index.js'
import { AUDIENCE, generateTestKey, startJWKSServer } from '../fixtures/jwks_server.js'

const later = () => Math.floor(Date.now() / 1000) + 3600

t.test('discovery once, then one JWKS fetch shared by concurrent first requests', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE })
  const token = await issuer.sign()
  const results = await Promise.all(Array.from({ length: 50 }, () => verifier.verify(token)))
  t.equal(results.length, 50)
  for (let i = 0; i < 200; i++) await verifier.verify(token)
  t.equal(issuer.counts.discovery, 1, 'metadata fetched once')
  t.equal(issuer.counts.jwks, 1, 'JWKS fetched once for 250 verifications')
  t.equal(verifier.jwks.stats.fetches, 1)
})

t.test('a flood of forged kids costs at most one refetch per cooldown', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri })
  await verifier.verify(await issuer.sign())
  t.equal(issuer.counts.jwks, 1)
  const forger = await generateTestKey()
  const forged = await Promise.all(Array.from({ length: 100 }, () => issuer.sign({}, { kid: randomUUID() }, forger)))
  const codes = await Promise.all(forged.map((token) => codeOf(verifier.verify(token))))
  t.same(new Set(codes), new Set(['ERR_STAMP_KEY_NOT_FOUND']), 'all 100 refused')
  for (const token of forged) t.equal(await codeOf(verifier.verify(token)), 'ERR_STAMP_KEY_NOT_FOUND')
  t.ok(issuer.counts.jwks <= 2, `100 forged kids, twice over → ${issuer.counts.jwks} fetches in total`)
  t.ok(verifier.jwks.stats.cooldownRejections >= 198, 'the rest were answered from the cooldown')
  t.ok(await verifier.verify(await issuer.sign()), 'genuine tokens are unaffected')
})

t.test('unknown kid inside the cooldown is refused without a fetch; after it, one refetch', async (t) => {
  const issuer = await startJWKSServer(t)
  let clock = Date.now()
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, now: () => clock, cooldown: 30_000 })
  await verifier.verify(await issuer.sign({ exp: later() }))
  const surprise = await generateTestKey()
  issuer.keys.unshift(surprise)
  const token = await issuer.sign({ exp: later() }, {}, surprise)
  clock += 10_000
  t.equal(await codeOf(verifier.verify(token)), 'ERR_STAMP_KEY_NOT_FOUND', '10 s after the last fetch: cooldown')
  t.equal(issuer.counts.jwks, 1)
  clock += 25_000
  const both = await Promise.all([verifier.verify(token), verifier.verify(token), verifier.verify(token)])
  t.equal(both.length, 3, 'after the cooldown the new key is found')
  t.equal(issuer.counts.jwks, 2, 'by one shared refetch')
})

t.test('max-age is honoured and revalidation is a conditional GET answered 304', async (t) => {
  const issuer = await startJWKSServer(t, { maxAge: 60 })
  let clock = Date.now()
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, now: () => clock })
  const token = await issuer.sign({ exp: later() })
  await verifier.verify(token)
  clock += 59_000
  await verifier.verify(token)
  await verifier.jwks.idle()
  t.equal(issuer.counts.jwks, 1, 'fresh for max-age seconds')
  clock += 2000
  await verifier.verify(token)
  await verifier.jwks.idle()
  t.equal(issuer.counts.jwks, 2, 'stale: revalidated')
  t.equal(issuer.counts.conditional, 1, 'with If-None-Match')
  t.equal(issuer.counts.notModified, 1, 'answered 304')
  t.equal(verifier.jwks.stats.notModified, 1)
  await verifier.verify(token)
  await verifier.jwks.idle()
  t.equal(issuer.counts.jwks, 2, 'a 304 renews freshness')

  // The set changes: the next revalidation gets a 200 with the new keys.
  const added = await generateTestKey()
  issuer.keys.push(added)
  clock += 61_000
  await verifier.verify(token)
  await verifier.jwks.idle()
  t.equal(issuer.counts.jwks, 3)
  t.equal(issuer.counts.notModified, 1, 'changed set: 200, not 304')
  t.ok(verifier.jwks.kids.includes(added.kid))
  t.ok(await verifier.verify(await issuer.sign({ exp: later() }, {}, added)))
  t.equal(issuer.counts.jwks, 3, 'the added key was already known: no fetch')
})

t.test('Cache-Control parsing: no-store, missing header, and the max-age ceiling', async (t) => {
  let clock = 0
  let cacheControl: string | null = 'no-store'
  const jwk = (await generateTestKey('k1')).publicJwk
  let fetches = 0
  const fetch = async () => {
    fetches++
    const headers = new Headers({ 'content-type': 'application/json' })
    if (cacheControl !== null) headers.set('cache-control', cacheControl)
    return new Response(JSON.stringify({ keys: [jwk] }), { status: 200, headers })
  }
  const cache = new JWKSCache({ uri: 'http://stamp.test/jwks', fetch, now: () => clock, defaultMaxAge: 120, maxMaxAge: 600 })
  await cache.getKey('k1', 'RS256')
  clock += 1000
  await cache.getKey('k1', 'RS256')
  await cache.idle()
  t.equal(fetches, 2, 'no-store: revalidated after the 1 s floor')
  cacheControl = null
  clock += 1000
  await cache.getKey('k1', 'RS256')
  await cache.idle()
  t.equal(fetches, 3)
  clock += 119_000
  await cache.getKey('k1', 'RS256')
  t.equal(fetches, 3, 'no header: defaultMaxAge')
  cacheControl = 'public, max-age=999999'
  clock += 2000
  await cache.getKey('k1', 'RS256')
  await cache.idle()
  t.equal(fetches, 4)
  clock += 601_000
  await cache.getKey('k1', 'RS256')
  await cache.idle()
  t.equal(fetches, 5, 'max-age capped at maxMaxAge')
})

t.test('when the issuer is unreachable, cached keys keep working and failures are rate-limited', async (t) => {
  const issuer = await startJWKSServer(t, { maxAge: 1 })
  let clock = Date.now()
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, now: () => clock, cooldown: 30_000 })
  const token = await issuer.sign({ exp: later() })
  await verifier.verify(token)
  issuer.mode = 'error'
  clock += 5000
  for (let i = 0; i < 100; i++) await verifier.verify(token)
  await verifier.jwks.idle()
  t.equal(verifier.jwks.stats.failures, 1, 'one failed revalidation, not one per request')
  await issuer.close()
  clock += 31_000
  for (let i = 0; i < 100; i++) await verifier.verify(token)
  await verifier.jwks.idle()
  t.equal(verifier.jwks.stats.failures, 2, 'connection refused: still served from cache')
  t.ok(verifier.jwks.lastError, 'the cause is kept')
  t.equal(await codeOf(verifier.verify(await issuer.sign({ exp: later() }, {}, await generateTestKey()))), 'ERR_STAMP_KEY_NOT_FOUND', 'unknown kids are still refused')
})

t.test('nothing cached and the issuer down: 503-class error, bounded by the timeout and the cooldown', async (t) => {
  const issuer = await startJWKSServer(t)
  issuer.mode = 'hang'
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, timeout: 200 })
  const token = await issuer.sign()
  const started = Date.now()
  const codes = await Promise.all(Array.from({ length: 20 }, () => codeOf(verifier.verify(token))))
  t.same(new Set(codes), new Set(['ERR_STAMP_JWKS_UNAVAILABLE']))
  t.ok(Date.now() - started < 2000, 'the request timed out')
  t.equal(verifier.jwks.stats.fetches, 1, 'concurrent callers shared the one attempt')
  issuer.mode = 'ok'
  t.equal(await codeOf(verifier.verify(token)), 'ERR_STAMP_JWKS_UNAVAILABLE', 'within the cooldown: no new attempt')
  t.equal(verifier.jwks.stats.fetches, 1)
  // An explicit load (e.g. a readiness probe) is not rate-limited.
  await verifier.jwks.load()
  t.ok(await verifier.verify(token), 'recovered')
})

t.test('discovery must name the same issuer', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer + '/tenant', audience: AUDIENCE })
  t.equal(await codeOf(verifier.verify(await issuer.sign())), 'ERR_STAMP_JWKS_UNAVAILABLE')
  t.match(String(verifier.jwks.lastError), /404|issuer/)
})

t.test('a rotation to the pre-published next key needs no refetch', async (t) => {
  const issuer = await startJWKSServer(t, { keys: 2 })
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri })
  const [active, next] = issuer.keys
  await verifier.verify(await issuer.sign({}, {}, active))
  // Rotate as Stamp does: next → active, active → retiring, a fresh next.
  issuer.keys.splice(0, issuer.keys.length, next, await generateTestKey(), active)
  t.ok(await verifier.verify(await issuer.sign({}, {}, next)), 'a token from the new active key')
  t.ok(await verifier.verify(await issuer.sign({}, {}, active)), 'and one from the retiring key')
  t.equal(issuer.counts.jwks, 1, 'no fetch during the rotation')
})
