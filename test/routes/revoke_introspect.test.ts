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
    t.equal((await postForm(app, '/revoke', { token: pair.refresh_token }, { authorization: other.basic })).statusCode, 400, 'refused (issue 11 item 4)')
    t.equal((await introspect(pair.refresh_token)).active, true)
    t.equal((await postForm(app, '/revoke', { token: 'garbage' }, { authorization: client.basic })).statusCode, 200)
  })
})

t.test('issue 11 item 4: introspection needs an authenticated confidential caller entitled to the token', async (t) => {
  const app = await build(t)
  const api = 'https://orders.example'
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], audiences: [api] })
  const resourceServer = await createClient(app, { audiences: [api] })
  const stranger = await createClient(app, { audiences: ['https://other.example'] })
  const publicClient = await createClient(app, { public: true, firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], audiences: [api] })
  const { user, username, password } = await createUser(app, undefined, undefined, ['read'])
  const pair = (await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })).json()
  const introspect = (token: string, by: typeof client) => postForm(app, '/introspect', { token }, { authorization: by.basic })

  const pub = await postForm(app, '/introspect', { token: pair.access_token, client_id: publicClient.client.id })
  t.equal(pub.statusCode, 401, 'a public client_id alone is not authentication')
  t.equal(pub.json().error, 'invalid_client')

  t.equal((await introspect(pair.access_token, resourceServer)).json().active, true, 'a resource server of the token\'s audience')
  t.equal((await introspect(pair.access_token, client)).json().active, true, 'the client the token was issued to')
  t.same((await introspect(pair.access_token, stranger)).json(), { active: false }, 'another client learns nothing')

  await app.usersRepository.update(user.id, { disabled: true })
  t.same((await introspect(pair.access_token, resourceServer)).json(), { active: false }, 'a disabled user\'s access token is inactive')
  t.same((await introspect(pair.refresh_token, client)).json(), { active: false }, 'and so is the refresh token')
})

t.test('issue 11 item 4: introspection of a token whose session ended is inactive', async (t) => {
  const { Browser, authorizeURL } = await import('../fixtures/browser.js')
  const app = await build(t)
  const CB = 'https://app.example/cb'
  const web = await createClient(app, { firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
  const { username, password } = await createUser(app)
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: web.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access' }))
  const done = await browser.signIn(page.res, username, password)
  const code = done.location!.searchParams.get('code')!
  const pair = (await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: web.basic })).json()
  const introspect = async (token: string) => (await postForm(app, '/introspect', { token }, { authorization: web.basic })).json()
  t.equal((await introspect(pair.access_token)).active, true)
  const sid = (await introspect(pair.access_token)).sid ?? JSON.parse(Buffer.from(pair.access_token.split('.')[1], 'base64url').toString()).sid
  t.ok(sid, 'the access token names its session')
  await app.sso.logout(sid)
  t.same(await introspect(pair.access_token), { active: false }, 'the session ended: inactive, as at /userinfo')
})

t.test('issue 11 item 4: revoking another client\'s token is refused (RFC 7009 §2.1) and revokes nothing', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const other = await createClient(app)
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const pair = (await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })).json()
  const res = await postForm(app, '/revoke', { token: pair.refresh_token }, { authorization: other.basic })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_grant', 'RFC 6749 §5.2: the token "was issued to another client"')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal((await postForm(app, '/introspect', { token: pair.refresh_token }, { authorization: client.basic })).json().active, true, 'still live')
  const access = await postForm(app, '/revoke', { token: pair.access_token }, { authorization: other.basic })
  t.equal(access.json().error, 'invalid_grant', 'another client\'s access token too')
})
