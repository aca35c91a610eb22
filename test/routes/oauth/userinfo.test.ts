import t from 'tap'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, authorizeURL } from '../../fixtures/browser.js'
import { decodeJwt } from 'jose'

const CB = 'https://app.example/cb'
const app = await build(t)
const client = await createClient(app, { firstParty: true, grantTypes: ['authorization_code', 'client_credentials'], redirectUris: [CB], scopes: ['openid', 'email', 'read'] })
const carol = await createUser(app, 'carol', 'pw-carol-123', ['read'])
const browser = new Browser(app)

async function tokens (scope: string) {
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope }))
  const done = page.location ? page : await browser.signIn(page.res, 'carol', carol.password)
  const code = done.location!.searchParams.get('code')!
  return (await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: client.basic })).json()
}

t.test('GET and POST return the claims the scopes release', async (t) => {
  const { access_token: token } = await tokens('openid email')
  const get = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })
  t.equal(get.statusCode, 200)
  t.equal(get.headers['cache-control'], 'no-store')
  t.same(get.json(), { sub: carol.user.id, email: 'carol@example.com', email_verified: false }, 'email scope only: no profile claims; the address was never verified')
  const post = await postForm(app, '/userinfo', { access_token: token })
  t.equal(post.statusCode, 200)
  t.same(post.json(), get.json())
  const both = await postForm(app, '/userinfo', { access_token: token }, { authorization: `Bearer ${token}` })
  t.equal(both.statusCode, 400, 'two token transports is invalid_request')
})

t.test('OIDC Core §5.1: email_verified is true only once the user proved the address, in the id_token and /userinfo', async (t) => {
  const claimsOf = async (scope: string) => {
    const { access_token: token, id_token: idToken } = await tokens(scope)
    const info = (await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })).json()
    return { info, id: decodeJwt(idToken) }
  }
  const unverified = await claimsOf('openid email')
  t.match(unverified.info, { email: 'carol@example.com', email_verified: false })
  t.match(unverified.id, { email: 'carol@example.com', email_verified: false })

  // As a followed verification or reset link leaves the user (changing the address clears it again).
  await app.prisma.user.update({ where: { id: carol.user.id }, data: { emailVerifiedAt: new Date() } })
  t.teardown(() => app.prisma.user.update({ where: { id: carol.user.id }, data: { emailVerifiedAt: null } }))
  const verified = await claimsOf('openid email')
  t.match(verified.info, { email: 'carol@example.com', email_verified: true })
  t.match(verified.id, { email: 'carol@example.com', email_verified: true })

  const noScope = await claimsOf('openid')
  t.equal(noScope.info.email_verified, undefined, 'without the email scope: neither claim')
  t.equal(noScope.id.email_verified, undefined)
  t.equal(noScope.id.email, undefined)
})

t.test('no token: 401 with a bare Bearer challenge', async (t) => {
  const res = await app.inject({ url: '/userinfo' })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="stamp", DPoP algs="ES256 RS256 PS256 EdDSA"', 'RFC 9449 §7.1: both schemes are offered')
})

t.test('invalid token: invalid_token', async (t) => {
  const res = await app.inject({ url: '/userinfo', headers: { authorization: 'Bearer abc.def.ghi' } })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /^Bearer realm="stamp", error="invalid_token"/)
  t.equal(res.json().error, 'invalid_token')
})

t.test('a client_credentials token (no openid scope) is refused', async (t) => {
  const tokenRes = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: client.basic })
  const res = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokenRes.json().access_token}` } })
  t.equal(res.statusCode, 403, 'client token without openid: insufficient_scope')
  t.match(res.headers['www-authenticate'], /error="insufficient_scope"/)
  t.match(res.headers['www-authenticate'], /scope="openid"/)
})

t.test('a token without openid scope: insufficient_scope', async (t) => {
  const { access_token: token } = await tokens('read')
  const res = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 403)
  t.equal(res.json().error, 'insufficient_scope')
})

t.test('issue 11 item 5: a client_credentials token never reads a user, even when the client id is that user id', async (t) => {
  // A client registered before UUID-shaped client ids were refused, whose id is carol's user id.
  const shadow = await createClient(app, { id: carol.user.id, scopes: ['openid', 'email'] })
  const tokenRes = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'openid email' }, { authorization: shadow.basic })
  t.equal(tokenRes.statusCode, 200)
  const res = await app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${tokenRes.json().access_token}` } })
  t.equal(res.statusCode, 401, 'a token whose subject is a client is refused')
  t.equal(res.json().error, 'invalid_token')
  t.notMatch(res.body, /carol@example\.com/)
})
