/**
 * Issue 11 item 14: an id_token_hint up to 8 KiB works; any over-long parameter is an error
 * (invalid_request, or an error page at the browser endpoints), never silently dropped.
 */
import t from 'tap'
import { build, createClient, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL } from '../../fixtures/browser.js'

const CB = 'https://app.example/cb'
const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
const client = await createClient(app, { firstParty: true, grantTypes: ['authorization_code', 'refresh_token', 'password'], redirectUris: [CB], postLogoutRedirectUris: ['https://app.example/bye'], scopes: ['openid', 'email'] })
// A long (valid) e-mail address makes a long ID token, as rich claims do in practice.
const password = 'correct horse battery staple'
const user = await app.usersRepository.create({ username: 'longmail', email: `${'x'.repeat(60)}@${'sub.'.repeat(150)}example.com`, passwordHash: await app.passwordHasher.hash(password), scopes: [] })

t.test('a long id_token_hint is honoured, not dropped', async (t) => {
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid email' }))
  const done = await browser.signIn(page.res, user.username, password)
  const code = done.location!.searchParams.get('code')!
  const tokens = (await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: client.basic })).json()
  t.ok(tokens.id_token.length > 1024 && tokens.id_token.length <= 8192, `ID token of ${tokens.id_token.length} characters`)
  const res = await browser.get(`${ISSUER}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://app.example/bye', state: 's' })}`)
  t.equal(res.statusCode, 303, 'the hint names the session: signed out at once')
  t.equal(res.headers.location, 'https://app.example/bye?state=s')
})

t.test('over-long parameters are errors at the browser endpoints', async (t) => {
  const logout = await app.inject({ url: `/logout?${new URLSearchParams({ id_token_hint: 'a'.repeat(8193), client_id: client.client.id })}` })
  t.equal(logout.statusCode, 400)
  t.match(logout.body, /too long/)
  const state = await app.inject({ url: `/logout?${new URLSearchParams({ state: 's'.repeat(5000) })}` })
  t.equal(state.statusCode, 400, 'state too')

  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const login = await browser.signIn(page.res, 'u'.repeat(5000), password)
  t.equal(login.res.statusCode, 400)
  t.match(login.res.body, /too long/)
})

t.test('over-long parameters are invalid_request at the JSON endpoints', async (t) => {
  const userinfo = await postForm(app, '/userinfo', { access_token: 'a'.repeat(9000) })
  t.equal(userinfo.statusCode, 400)
  t.equal(userinfo.json().error, 'invalid_request')
  for (const [name, value] of [['username', 'u'.repeat(3000)], ['refresh_token', 'r'.repeat(9000)], ['scope', 's'.repeat(5000)], ['password', 'p'.repeat(3000)]]) {
    const form: Record<string, string> = { grant_type: name === 'refresh_token' ? 'refresh_token' : 'password', username: 'x', password: 'y', [name]: value }
    const res = await postForm(app, '/token', form, { authorization: client.basic })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().error, 'invalid_request', name)
    t.match(res.json().error_description, new RegExp(`${name} is too long`))
  }
})
