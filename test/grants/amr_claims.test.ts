import t from 'tap'
import { decodeJwt } from 'jose'
import { build, createClient, createUser, postForm, refreshGrant } from '../helper.js'
import { Browser, authorizeURL } from '../fixtures/browser.js'
import { ACR_SINGLE_FACTOR } from '../../src/domain/authentication_methods.js'

const CB = 'https://app.example/cb'
const app = await build(t)
const client = await createClient(app, { name: 'App', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
const carol = await createUser(app, 'carol')

t.test('a password sign-in: session, id_token, access and refreshed tokens say how', async (t) => {
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access' }))
  const done = await browser.signIn(page.res, 'carol', carol.password)
  const code = done.location!.searchParams.get('code')!
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: client.basic })
  t.equal(res.statusCode, 200)
  const body = res.json()
  const id = decodeJwt(body.id_token)
  t.same(id.amr, ['pwd'])
  t.equal(id.acr, ACR_SINGLE_FACTOR)
  const sessions = await app.sessions.listActiveForUser(carol.user.id, { limit: 5 }, new Date())
  t.same(sessions[0].amr, ['pwd'])
  t.equal(sessions[0].acr, ACR_SINGLE_FACTOR)
  const access = decodeJwt(body.access_token)
  t.equal(access.acr, ACR_SINGLE_FACTOR)
  t.equal(access.auth_time, id.auth_time)
  const refreshed = await refreshGrant(app, client, body.refresh_token)
  t.equal(refreshed.statusCode, 200)
})

t.test('refreshed access tokens keep the original acr and auth_time (OIDC Core §12.2), through rotations and retries', async (t) => {
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access' }))
  const done = await browser.signIn(page.res, 'carol', carol.password)
  const code = done.location!.searchParams.get('code')!
  const body = (await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: client.basic })).json()
  const original = decodeJwt(body.id_token)
  // A second later: a refresh that stamped its own time as auth_time would show.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  let refreshToken = body.refresh_token as string
  for (const round of [1, 2]) {
    const res = await refreshGrant(app, client, refreshToken)
    t.equal(res.statusCode, 200, `refresh ${round}`)
    const access = decodeJwt(res.json().access_token)
    t.equal(access.acr, ACR_SINGLE_FACTOR, `refresh ${round}: acr`)
    t.equal(access.auth_time, original.auth_time, `refresh ${round}: the original auth_time`)
    // A retry (the answer was lost) is answered the same way.
    const retry = await refreshGrant(app, client, refreshToken)
    t.equal(retry.statusCode, 200, `retry ${round}`)
    t.equal(retry.json().refresh_token, res.json().refresh_token, `retry ${round}: the same successor`)
    const retried = decodeJwt(retry.json().access_token)
    t.equal(retried.acr, ACR_SINGLE_FACTOR, `retry ${round}: acr`)
    t.equal(retried.auth_time, original.auth_time, `retry ${round}: auth_time`)
    refreshToken = res.json().refresh_token
  }
})

t.test('the password grant: refreshed access tokens keep acr and auth_time', async (t) => {
  const pw = await createClient(app, { name: 'CLI', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['offline_access'] })
  const first = (await postForm(app, '/token', { grant_type: 'password', username: 'carol', password: carol.password }, { authorization: pw.basic })).json()
  const before = decodeJwt(first.access_token)
  t.equal(before.acr, ACR_SINGLE_FACTOR)
  const refreshed = await refreshGrant(app, pw, first.refresh_token)
  t.equal(refreshed.statusCode, 200)
  const after = decodeJwt(refreshed.json().access_token)
  t.equal(after.acr, ACR_SINGLE_FACTOR)
  t.equal(after.auth_time, before.auth_time)
})

t.test('discovery advertises acr values and the amr/acr claims', async (t) => {
  const meta = (await app.inject('/.well-known/openid-configuration')).json()
  t.ok(meta.acr_values_supported.includes(ACR_SINGLE_FACTOR))
  t.ok(meta.claims_supported.includes('amr'))
  t.ok(meta.claims_supported.includes('acr'))
})
