/**
 * Issue 11 item 7: every successful sign-in gets a new session secret (a copied cookie does not
 * satisfy max_age or prompt=login after the victim signs in again); `__Host-` cookies on an https
 * issuer at path `/`; the browser-binding cookie is rotated at sign-in.
 */
import t from 'tap'
import { build, createClient, createTestDatabase, createUser, testConfig } from '../../helper.js'
import { Browser, authorizeURL, hiddenFields } from '../../fixtures/browser.js'

const CB = 'https://app.example/cb'

t.test('a copied session cookie stops working when the victim signs in again', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
  const victim = await createUser(app)
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  t.ok((await browser.signIn(start.res, victim.username, victim.password)).location?.searchParams.get('code'))
  const stolen = browser.cookies.get('stamp_session')!
  const sid = (await app.sso.currentSession(stolen))!.session.id

  // The victim signs in again (prompt=login).
  const again = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', prompt: 'login' }))
  t.match(again.res.body, /name="password"/, 'prompt=login shows the form')
  t.ok((await browser.signIn(again.res, victim.username, victim.password)).location?.searchParams.get('code'))
  const fresh = browser.cookies.get('stamp_session')!
  t.not(fresh, stolen, 'a new session secret')
  t.equal((await app.sso.currentSession(fresh))!.session.id, sid, 'the same session (sid) continues')

  const attacker = new Browser(app)
  attacker.cookies.set('stamp_session', stolen)
  const res = await attacker.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', max_age: '60' }))
  t.notOk(res.location, 'no code for the copied cookie')
  t.match(res.res.body, /name="password"/, 'the copied cookie has to sign in')
  t.equal(await app.sso.currentSession(stolen), null)
})

t.test('https issuer at /: __Host- cookies; the binding cookie is rotated at sign-in', async (t) => {
  const HTTPS = 'https://stamp.test'
  const url = await createTestDatabase(t)
  const app = await build(t, { databaseUrl: url, config: testConfig(url, { ISSUER: HTTPS }) })
  const client = await createClient(app, { name: 'Third party', grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
  const user = await createUser(app)
  const browser = new Browser(app, HTTPS)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }, HTTPS))
  t.match(String(start.res.headers['set-cookie'] ?? ''), '', 'the form page')
  const binding = browser.cookies.get('__Host-stamp_browser')
  t.ok(binding, 'binding cookie named __Host-stamp_browser')
  t.notOk(browser.cookies.has('stamp_browser'))

  const signedIn = await browser.post(`${HTTPS}/login`, { ...hiddenFields(start.res.body), username: user.username, password: user.password })
  const cookies = ([] as string[]).concat(signedIn.headers['set-cookie'] ?? [])
  t.ok(cookies.some((c) => /^__Host-stamp_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/.test(c)), 'session cookie: __Host-, Secure, Path=/')
  t.ok(cookies.some((c) => /^__Host-stamp_browser=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure$/.test(c)), 'binding cookie set again')
  const rotated = browser.cookies.get('__Host-stamp_browser')
  t.not(rotated, binding, 'a new binding secret at sign-in')

  // The consent step continues with the new binding; the old one is worthless now.
  const consentURL = String(signedIn.headers.location)
  t.match(consentURL, /^https:\/\/stamp\.test\/consent\?request=/)
  const stale = new Browser(app, HTTPS)
  stale.cookies.set('__Host-stamp_browser', binding!)
  stale.cookies.set('__Host-stamp_session', browser.cookies.get('__Host-stamp_session')!)
  t.match((await stale.get(consentURL)).body, /has expired/, 'the old binding no longer opens the parked request')
  const consent = await browser.follow(consentURL)
  const done = await browser.follow(`${HTTPS}/consent`, { ...hiddenFields(consent.res.body), decision: 'allow' })
  t.ok(done.location?.searchParams.get('code'), 'consent completes with the rotated binding')

  // A cookie without the prefix (settable by a sibling subdomain) is not ours on this issuer.
  const planted = new Browser(app, HTTPS)
  planted.cookies.set('stamp_session', browser.cookies.get('__Host-stamp_session')!)
  const res = await planted.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', prompt: 'none' }, HTTPS))
  t.equal(res.location?.searchParams.get('error'), 'login_required', 'an unprefixed session cookie is ignored')
})
