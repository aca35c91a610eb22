import t from 'tap'
import { build, createClient, createUser, postForm } from '../helper.js'

t.test('revocation (RFC 7009) and introspection (RFC 7662)', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token', 'client_credentials'], scopes: ['read'] })
  const other = await createClient(app)
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const login = async () => (await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })).json()
  const introspect = async (token: string, by = client) => (await postForm(app, '/introspect', { token }, { authorization: by.basic })).json()

  t.test('introspection describes live tokens', async (t) => {
    const pair = await login()
    const access = await introspect(pair.access_token)
    t.equal(access.active, true)
    t.equal(access.token_type, 'Bearer')
    t.equal(access.client_id, client.client.id)
    t.equal(access.scope, 'read')
    const refresh = await introspect(pair.refresh_token)
    t.equal(refresh.active, true)
    t.equal(refresh.token_type, 'refresh_token')
    t.same(await introspect(pair.refresh_token, other), { active: false }, 'only the owning client sees a refresh token')
  })

  t.test('introspection answers active:false for anything else', async (t) => {
    const pair = await login()
    await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token }, { authorization: client.basic })
    for (const token of ['garbage', 'a.b.c', pair.refresh_token /* consumed */, pair.access_token.slice(0, -3) + 'abc']) {
      t.same(await introspect(token), { active: false })
    }
  })

  t.test('introspection and revocation require client authentication', async (t) => {
    for (const url of ['/introspect', '/revoke']) {
      const res = await postForm(app, url, { token: 'x' })
      t.equal(res.statusCode, 401)
      t.equal(res.json().error, 'invalid_client')
    }
    const missing = await postForm(app, '/revoke', {}, { authorization: client.basic })
    t.equal(missing.json().error, 'invalid_request')
  })

  t.test('revoking a refresh token revokes its family', async (t) => {
    const pair = await login()
    const next = (await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token }, { authorization: client.basic })).json()
    // revoking the consumed ancestor still kills the live successor
    const res = await postForm(app, '/revoke', { token: pair.refresh_token, token_type_hint: 'refresh_token' }, { authorization: client.basic })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['cache-control'], 'no-store')
    t.same(await introspect(next.refresh_token), { active: false })
    const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: next.refresh_token }, { authorization: client.basic })
    t.equal(refresh.json().error, 'invalid_grant')
  })

  t.test('another client cannot revoke it; invalid tokens are not an error', async (t) => {
    const pair = await login()
    t.equal((await postForm(app, '/revoke', { token: pair.refresh_token }, { authorization: other.basic })).statusCode, 200)
    t.equal((await introspect(pair.refresh_token)).active, true)
    t.equal((await postForm(app, '/revoke', { token: 'garbage' }, { authorization: client.basic })).statusCode, 200)
  })
})
