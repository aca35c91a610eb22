/**
 * Issue 11 item 15, RFC 8252 §8.6: a public native client's identity cannot be assured (another
 * app can claim its redirect URI scheme or loopback port), so remembered consent never authorizes
 * it silently: prompt=none answers consent_required, and without prompt=none the user is asked again.
 */
import t, { type Test } from 'tap'
import { build, createClient, createUser } from '../../helper.js'
import { Browser, authorizeURL, hiddenFields, pkce } from '../../fixtures/browser.js'

const app = await build(t)
const NATIVE = ['com.example.app:/oauth2redirect', 'http://127.0.0.1/callback']
const native = await createClient(app, { name: 'Native app', public: true, grantTypes: ['authorization_code'], redirectUris: NATIVE, scopes: ['openid'], requirePkce: true })
const web = await createClient(app, { name: 'Web app', grantTypes: ['authorization_code'], redirectUris: ['https://web.example/cb'], scopes: ['openid'] })
const spa = await createClient(app, { name: 'SPA', public: true, grantTypes: ['authorization_code'], redirectUris: ['https://spa.example/cb'], scopes: ['openid'], requirePkce: true })
const user = await createUser(app)
const browser = new Browser(app)

function request (client: typeof native, redirectUri: string, extra: Record<string, string> = {}) {
  return authorizeURL({ client_id: client.client.id, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 'st', code_challenge: pkce().challenge, code_challenge_method: 'S256', ...extra })
}

/** Signs in (first time) or just consents, and returns the code. */
async function approve (t: Test, client: typeof native, redirectUri: string) {
  let page = await browser.follow(request(client, redirectUri))
  if (/name="password"/.test(page.res.body)) page = await browser.signIn(page.res, user.username, user.password)
  if (page.location) return page.location
  t.match(page.res.body, /Allow/, 'consent page')
  return (await browser.follow('http://stamp.test/consent', { ...hiddenFields(page.res.body), decision: 'allow' })).location!
}

t.test('confidential and https clients: remembered consent authorizes prompt=none (unchanged)', async (t) => {
  for (const [client, uri] of [[web, 'https://web.example/cb'], [spa, 'https://spa.example/cb']] as const) {
    t.ok((await approve(t, client, uri)).searchParams.get('code'))
    const silent = await browser.follow(request(client, uri, { prompt: 'none' }))
    t.ok(silent.location?.searchParams.get('code'), `${client.client.name}: code without interaction`)
  }
})

for (const uri of NATIVE) {
  t.test(`public native client (${uri}): remembered consent is not enough`, async (t) => {
    const first = await approve(t, native, uri)
    t.ok(first.searchParams.get('code'), 'the user approved once')
    t.same(await app.consents.granted(user.user.id, native.client.id), ['openid'], 'and the consent is remembered')

    const silent = await browser.follow(request(native, uri, { prompt: 'none' }))
    t.ok(silent.location, 'redirected back')
    t.equal(silent.location!.searchParams.get('code'), null, 'no code without interaction')
    t.equal(silent.location!.searchParams.get('error'), 'consent_required')
    t.equal(silent.location!.searchParams.get('state'), 'st')

    const again = await browser.follow(request(native, uri))
    t.notOk(again.location, 'no silent code without prompt=none either')
    t.match(again.res.body, /Allow/, 'the user is asked again')
  })
}
