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

t.test('discovery advertises acr values and the amr/acr claims', async (t) => {
  const meta = (await app.inject('/.well-known/openid-configuration')).json()
  t.ok(meta.acr_values_supported.includes(ACR_SINGLE_FACTOR))
  t.ok(meta.claims_supported.includes('amr'))
  t.ok(meta.claims_supported.includes('acr'))
})
