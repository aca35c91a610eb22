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

/** RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ). */
const DESCRIPTION_CHARSET = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/

t.test('error_description never leaves RFC 6749 §5.2 character set, whatever the input echoed', async (t) => {
  const { createAdmin, createClient, postForm } = await import('../helper.js')
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
  const admin = await createAdmin(app)
  const cc = await createClient(app)
  const code = await createClient(app, { grantTypes: ['authorization_code'], redirectUris: ['https://app.example/cb'], scopes: ['openid'] })
  const responses = [
    await postForm(app, '/token', { grant_type: 'pässwörd "quoted" \\back\\ 🔑' }, { authorization: cc.basic }),
    await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'rëad' }, { authorization: cc.basic }),
    await app.inject({ method: 'POST', url: '/admin/clients', headers: { authorization: admin.authorization }, payload: { name: 'n', client_id: 'bad id "é"' } }),
    await app.inject({ method: 'POST', url: '/admin/users', headers: { authorization: admin.authorization }, payload: { username: 'a b' } }),
    await app.inject({ method: 'GET', url: '/n%C3%B6pe"\\' }),
  ]
  for (const res of responses) {
    const { error_description: description } = res.json()
    t.match(description, DESCRIPTION_CHARSET, `${res.statusCode} ${description}`)
  }
  // Redirected errors too (RFC 6749 §4.1.2.1 uses the same set).
  const res = await app.inject({ method: 'GET', url: `/authorize?${new URLSearchParams({ client_id: code.client.id, redirect_uri: 'https://app.example/cb', response_type: 'cöde "x"', state: 's' })}` })
  t.equal(res.statusCode, 303)
  const description = new URL(res.headers.location as string).searchParams.get('error_description')
  t.match(description, DESCRIPTION_CHARSET, String(description))
})
