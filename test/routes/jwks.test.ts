import t from 'tap'
import { build } from '../helper.js'

t.test('JWKS serves public members only, with caching headers', async (t) => {
  const app = await build(t, { env: { JWKS_MAX_AGE: '120' } })
  const res = await app.inject('/jwks')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'public, max-age=120')
  t.match(res.headers['content-type'], /^application\/jwk-set\+json/)
  const { keys } = res.json()
  t.equal(keys.length, 2, 'active + pre-published next key')
  for (const key of keys) {
    t.same(Object.keys(key).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'])
    t.equal(key.use, 'sig')
    t.equal(key.alg, 'RS256')
  }
  t.notMatch(res.body, /"(d|p|q|dp|dq|qi)":/)

  const etag = res.headers.etag as string
  t.ok(etag)
  const cached = await app.inject({ url: '/jwks', headers: { 'if-none-match': etag } })
  t.equal(cached.statusCode, 304)
  t.equal(cached.body, '')
  t.equal((await app.inject('/jwks')).headers.etag, etag, 'unchanged set, unchanged ETag')
  t.equal((await app.inject({ url: '/jwks', headers: { 'if-none-match': `"other", W/${etag}` } })).statusCode, 304, 'lists and weak tags match')
  t.equal((await app.inject({ url: '/jwks', headers: { 'if-none-match': '"other"' } })).statusCode, 200)

  await app.keyring.rotate({ force: true })
  const after = await app.inject({ url: '/jwks', headers: { 'if-none-match': etag } })
  t.equal(after.statusCode, 200, 'a rotation changes the set and the ETag')
  t.not(after.headers.etag, etag)
  t.equal(after.json().keys.length, 3, 'active, next and retiring')
})
