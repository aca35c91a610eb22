import t from 'tap'
import { build } from '../helper.js'

t.test('unexpected errors become a generic server_error without internals', async (t) => {
  const app = await build(t)
  // A failing storage call, as a broken database would produce.
  app.clientCache.find = async () => { throw new Error('connect ECONNREFUSED 10.0.0.1:5432 SELECT secret FROM clients') }
  const res = await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials&client_id=x&client_secret=y' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { error: 'server_error', error_description: 'the server encountered an unexpected error' })
  t.equal(res.headers['cache-control'], 'no-store')
  t.notMatch(res.body, /ECONNREFUSED|SELECT|stack/)
})

t.test('unknown routes get an RFC 6749-shaped 404', async (t) => {
  const app = await build(t)
  const res = await app.inject('/nope?token=secret')
  t.equal(res.statusCode, 404)
  t.equal(res.json().error, 'invalid_request')
  t.notMatch(res.body, /secret/)
})
