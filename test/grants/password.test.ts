import t from 'tap'
import { build, createClient, createUser, postForm } from '../helper.js'

t.test('password grant', async (t) => {
  const app = await build(t)
  const firstParty = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'read', 'admin'] })
  const thirdParty = await createClient(app, { grantTypes: ['password'], scopes: ['read'] })
  const { user, username, password } = await createUser(app, 'alice', 'correct horse battery staple', ['read'])

  t.test('returns an access + refresh pair for valid credentials', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: firstParty.basic })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['cache-control'], 'no-store')
    const body = res.json()
    t.ok(body.access_token)
    t.ok(body.refresh_token)
    t.equal(body.expires_in, 300)
    // admin is not in the user's allowed scopes; openid is a baseline OIDC scope
    t.equal(body.scope, 'openid read')
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url').toString())
    t.equal(claims.sub, user.id)
    const rt = JSON.parse(Buffer.from(body.refresh_token.split('.')[1], 'base64url').toString())
    t.equal(rt.exp - rt.iat, 86_400)
    const header = JSON.parse(Buffer.from(body.refresh_token.split('.')[0], 'base64url').toString())
    t.equal(header.typ, 'rt+jwt')
  })

  t.test('client_secret_post works too', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password, client_id: firstParty.client.id, client_secret: firstParty.secret! })
    t.equal(res.statusCode, 200)
  })

  t.test('wrong password and unknown user give the same invalid_grant', async (t) => {
    const wrong = await postForm(app, '/token', { grant_type: 'password', username, password: 'nope' }, { authorization: firstParty.basic })
    const unknown = await postForm(app, '/token', { grant_type: 'password', username: 'nobody', password: 'nope' }, { authorization: firstParty.basic })
    t.equal(wrong.statusCode, 400)
    t.same(wrong.json(), unknown.json())
    t.equal(wrong.json().error, 'invalid_grant')
    t.equal(wrong.headers['cache-control'], 'no-store')
  })

  t.test('a scope outside the user allow-list is invalid_scope', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'admin' }, { authorization: firstParty.basic })
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'invalid_scope')
  })

  t.test('only first-party clients may use it', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: thirdParty.basic })
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'unauthorized_client')
  })

  t.test('missing username is invalid_request', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'password', password }, { authorization: firstParty.basic })
    t.equal(res.json().error, 'invalid_request')
  })

  t.test('a disabled user cannot sign in', async (t) => {
    await app.prisma.user.update({ where: { id: user.id }, data: { disabled: true } })
    t.teardown(() => app.prisma.user.update({ where: { id: user.id }, data: { disabled: false } }))
    const res = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: firstParty.basic })
    t.equal(res.json().error, 'invalid_grant')
  })

  t.test('a hash made with weaker parameters is upgraded on login', async (t) => {
    const argon2 = (await import('argon2')).default
    const weak = await argon2.hash('weak-params-password', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 })
    const created = await app.usersRepository.create({ username: 'bob', email: null, passwordHash: weak, scopes: [] })
    const res = await postForm(app, '/token', { grant_type: 'password', username: 'bob', password: 'weak-params-password' }, { authorization: firstParty.basic })
    t.equal(res.statusCode, 200)
    const after = await app.usersRepository.findById(created.id)
    t.not(after!.passwordHash, weak)
    t.match(after!.passwordHash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/)
  })
})
