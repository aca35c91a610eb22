/**
 * JWKS HTTP caching (issue 4 §7): `Cache-Control: public, max-age`, a strong ETag, 304 on a
 * matching If-None-Match (RFC 9110 §13.1.2), and a body/ETag that change only with the set.
 *
 * @module
 */
import t from 'tap'
import { build } from '../helper.js'
import { fakeClock, PRIVATE_MEMBERS } from '../fixtures/keys.js'

t.test('JWKS: cache headers, ETag and 304', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { now: clock.now })
  const first = await app.inject('/jwks')
  t.equal(first.statusCode, 200)
  t.equal(first.headers['cache-control'], 'public, max-age=300', 'default max-age is 300')
  t.match(first.headers['content-type'], /^application\/jwk-set\+json/)
  const etag = first.headers.etag as string
  t.match(etag, /^"[A-Za-z0-9_-]+"$/, 'strong ETag')
  const body = first.json()
  t.equal(body.keys.length, 2)
  for (const key of body.keys) {
    t.same(Object.keys(key).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'], 'public members only')
    for (const m of PRIVATE_MEMBERS) t.notOk(m in key)
  }

  for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const res = await app.inject({ url: '/jwks', headers: { 'if-none-match': header } })
    t.equal(res.statusCode, 304, `304 for If-None-Match: ${header}`)
    t.equal(res.body, '')
    t.equal(res.headers.etag, etag, 'a 304 repeats the ETag')
    t.equal(res.headers['cache-control'], 'public, max-age=300', 'and refreshes the cache lifetime')
  }
  t.equal((await app.inject({ url: '/jwks', headers: { 'if-none-match': '"stale"' } })).statusCode, 200)

  // Nothing changed: reloads and maintenance ticks leave body and ETag byte-identical.
  await app.keyring.refresh()
  await app.keyring.tick()
  const again = await app.inject('/jwks')
  t.equal(again.body, first.body)
  t.equal(again.headers.etag, etag)

  clock.advance(301 + 5)
  await app.keyring.rotate()
  const rotated = await app.inject('/jwks')
  t.not(rotated.headers.etag, etag, 'rotation changes the ETag')
  t.not(rotated.body, first.body)
  t.equal(rotated.json().keys.length, 3)
  t.equal((await app.inject({ url: '/jwks', headers: { 'if-none-match': etag } })).statusCode, 200, 'the old ETag no longer matches')
  t.equal((await app.inject({ url: '/jwks', headers: { 'if-none-match': rotated.headers.etag as string } })).statusCode, 304)
})

t.test('JWKS_MAX_AGE sets the max-age', async (t) => {
  const app = await build(t, { env: { JWKS_MAX_AGE: '42' } })
  t.equal((await app.inject('/jwks')).headers['cache-control'], 'public, max-age=42')
})
