/**
 * Issue 11 item 16: per-client `require_pkce`, on by default for new clients. /authorize refuses a
 * request without code_challenge with RFC 7636 §4.4.1's invalid_request redirect; /token refuses a
 * code issued without one once the client requires PKCE.
 */
import t from 'tap'
import { build, createAdmin, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../../fixtures/browser.js'

const CB = 'https://app.example/cb'
const app = await build(t)
const admin = await createAdmin(app)
const user = await createUser(app)
const browser = new Browser(app)

async function register (body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/admin/clients', headers: { authorization: admin.authorization }, payload: { name: 'App', first_party: true, grant_types: ['authorization_code'], redirect_uris: [CB], scopes: ['openid'], ...body } })
  t.equal(res.statusCode, 201, res.body)
  return res.json()
}

t.test('admin API: new clients require PKCE unless registered without; the field can be changed', async (t) => {
  const created = await register({})
  t.equal(created.require_pkce, true, 'on by default')
  t.equal((await app.clientStore.find(created.client_id))!.requirePkce, true)
  const optedOut = await register({ require_pkce: false })
  t.equal(optedOut.require_pkce, false)
  const patched = await app.inject({ method: 'PATCH', url: `/admin/clients/${optedOut.client_id}`, headers: { authorization: admin.authorization }, payload: { require_pkce: true } })
  t.equal(patched.statusCode, 200, patched.body)
  t.equal(patched.json().require_pkce, true)
  const pub = await register({ public: true, require_pkce: false })
  t.equal(pub.require_pkce, true, 'a public client always requires PKCE')
  const bad = await app.inject({ method: 'PATCH', url: `/admin/clients/${created.client_id}`, headers: { authorization: admin.authorization }, payload: { require_pkce: 'yes' } })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error, 'invalid_request')
})

t.test('/authorize: a client that requires PKCE gets invalid_request at its redirect URI without a challenge', async (t) => {
  const { client_id: clientId } = await register({})
  const start = await browser.follow(authorizeURL({ client_id: clientId, redirect_uri: CB, response_type: 'code', scope: 'openid', state: 'xyz' }))
  const location = start.location!
  t.ok(location, 'redirected to the client')
  t.equal(location.origin + location.pathname, CB)
  t.equal(location.searchParams.get('error'), 'invalid_request')
  t.match(location.searchParams.get('error_description'), /code challenge required/)
  t.equal(location.searchParams.get('state'), 'xyz')
  t.equal(location.searchParams.get('iss'), ISSUER)
  t.equal(location.searchParams.get('code'), null)

  const { verifier, challenge } = pkce()
  const page = await browser.follow(authorizeURL({ client_id: clientId, redirect_uri: CB, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }))
  const done = page.location ?? (await browser.signIn(page.res, user.username, user.password)).location!
  const code = done.searchParams.get('code')!
  t.ok(code, 'with a challenge the flow works')
  t.equal((await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier }, { authorization: 'Basic ' + Buffer.from(`${clientId}:x`).toString('base64') })).statusCode, 401, 'sanity: wrong secret')
})

t.test('/token: a code issued without PKCE is refused once the client requires it', async (t) => {
  const legacy = await createClient(app, { firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'], requirePkce: false })
  const page = await browser.follow(authorizeURL({ client_id: legacy.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const done = page.location ?? (await browser.signIn(page.res, user.username, user.password)).location!
  const code = done.searchParams.get('code')!
  t.ok(code, 'a client that does not require PKCE may omit it')
  await app.clientStore.update(legacy.client.id, { requirePkce: true })
  app.clientCache.forget(legacy.client.id)
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: legacy.basic })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_grant')
})
