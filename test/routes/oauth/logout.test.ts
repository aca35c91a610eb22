import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { build, createClient, createTestDatabase, createUser, postForm, testConfig } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields } from '../../fixtures/browser.js'

interface Delivery { path: string, contentType: string | undefined, body: URLSearchParams, at: number }

/** A relying party's back-channel logout receiver on 127.0.0.1. `/flaky` fails once, `/slow` hangs once. */
const deliveries: Delivery[] = []
const seen = new Map<string, number>()
const receiver = createServer((req: IncomingMessage, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => {
    const count = (seen.get(req.url!) ?? 0) + 1
    seen.set(req.url!, count)
    if (req.url === '/flaky' && count === 1) { res.writeHead(500).end(); return }
    if (req.url === '/slow' && count === 1) { setTimeout(() => res.writeHead(200).end(), 2000).unref(); return }
    deliveries.push({ path: req.url!, contentType: req.headers['content-type'], body: new URLSearchParams(body), at: Date.now() })
    res.writeHead(200, { 'cache-control': 'no-store' }).end()
  })
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => { receiver.closeAllConnections(); receiver.close(() => resolve()) }))
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

const url = await createTestDatabase(t)
const config = testConfig(url)
config.policy = { ...config.policy, backchannelLogout: { attempts: 3, timeoutMs: 300, backoffMs: 50 } }
const app = await build(t, { databaseUrl: url, config })

const A = 'https://a.example/cb'
const B = 'https://b.example/cb'
const a = await createClient(app, { name: 'A', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [A], postLogoutRedirectUris: ['https://a.example/bye'], backchannelLogoutUri: `${base}/flaky`, scopes: ['openid'] })
const b = await createClient(app, { name: 'B', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [B], backchannelLogoutUri: `${base}/slow`, scopes: ['openid'] })
const c = await createClient(app, { name: 'C', firstParty: true, grantTypes: ['authorization_code'], redirectUris: ['https://c.example/cb'], scopes: ['openid'] })
const dave = await createUser(app, 'dave')

async function signedIn () {
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: a.client.id, redirect_uri: A, response_type: 'code', scope: 'openid' }))
  const done = await browser.signIn(page.res, 'dave', dave.password)
  const code = done.location!.searchParams.get('code')!
  const tokens = (await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: A }, { authorization: a.basic })).json()
  const viaB = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: B, response_type: 'code', scope: 'openid' }))
  if (!viaB.location?.searchParams.get('code')) throw new Error('SSO into B failed')
  return { browser, tokens }
}

t.test('RP-initiated logout notifies every participating client by back-channel, with retries, without blocking', async (t) => {
  deliveries.length = 0
  seen.clear()
  const { browser, tokens } = await signedIn()
  const jwks = createLocalJWKSet((await app.inject('/jwks')).json())
  const { payload: id } = await jwtVerify(tokens.id_token, jwks, { issuer: ISSUER })

  const started = Date.now()
  const res = await browser.get(`${ISSUER}/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://a.example/bye', state: 's' })}`)
  const elapsed = Date.now() - started
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, 'https://a.example/bye?state=s')
  t.ok(elapsed < 1000, `logout did not wait for the slow client (${elapsed} ms)`)
  const session = await app.sessions.find(id.sid as string)
  t.ok(session?.endedAt, 'session ended in the database')

  for (let i = 0; i < 100 && deliveries.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(deliveries.length, 2, 'both clients with a back-channel URI were notified; C has none')
  t.equal(seen.get('/flaky'), 2, 'the failing receiver was retried')
  t.equal(seen.get('/slow'), 2, 'the timed-out delivery was retried')
  for (const delivery of deliveries) {
    t.equal(delivery.contentType, 'application/x-www-form-urlencoded')
    const token = delivery.body.get('logout_token')!
    t.equal(decodeProtectedHeader(token).typ, 'logout+jwt')
    const audience = delivery.path === '/flaky' ? a.client.id : b.client.id
    const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience, typ: 'logout+jwt' })
    t.same(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} })
    t.equal(payload.sid, id.sid)
    t.equal(payload.sub, dave.user.id)
    t.notOk('nonce' in payload, 'no nonce in a logout token')
    t.ok(payload.jti && payload.iat && payload.exp)
  }
  t.notOk(c.client.backchannelLogoutUri)
})

t.test('logout without a hint asks for confirmation (CSRF-protected)', async (t) => {
  const { browser } = await signedIn()
  const ask = await browser.get(`${ISSUER}/logout?client_id=${a.client.id}&post_logout_redirect_uri=${encodeURIComponent('https://a.example/bye')}&state=q`)
  t.equal(ask.statusCode, 200)
  t.match(ask.body, /Sign out\?/)
  t.match(String(ask.headers['content-security-policy']), /form-action 'self' https:\/\/a\.example/)
  const fields = hiddenFields(ask.body)
  t.ok(fields.csrf)

  const forged = await browser.post(`${ISSUER}/logout`, { ...fields, csrf: 'forged-token-forged-token-forged-token-xx' })
  t.equal(forged.statusCode, 200, 'a wrong CSRF token gets the confirmation page again')
  t.ok(browser.cookies.has('stamp_session'), 'still signed in')

  const done = await browser.post(`${ISSUER}/logout`, fields)
  t.equal(done.statusCode, 303)
  t.equal(done.headers.location, 'https://a.example/bye?state=q')
  t.notOk(browser.cookies.has('stamp_session'))
  const again = await browser.follow(authorizeURL({ client_id: b.client.id, redirect_uri: B, response_type: 'code', prompt: 'none' }))
  t.equal(again.location?.searchParams.get('error'), 'login_required', 'signed out for every app')
})

t.test('a cross-site POST (no cookie) is turned into a GET that carries the cookie', async (t) => {
  const res = await postForm(app, '/logout', { client_id: a.client.id, state: 'z' })
  t.equal(res.statusCode, 303)
  t.equal(res.headers.location, `${ISSUER}/logout?client_id=${a.client.id}&state=z`)
})

t.test('logout with nothing to end shows the signed-out page', async (t) => {
  const res = await app.inject('/logout')
  t.equal(res.statusCode, 200)
  t.match(res.body, /You are signed out/)
})

t.test('unregistered post_logout_redirect_uri or bad hint → error page, no redirect', async (t) => {
  const bad = await app.inject(`/logout?client_id=${a.client.id}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`)
  t.equal(bad.statusCode, 400)
  t.notOk(bad.headers.location)
  const noClient = await app.inject(`/logout?post_logout_redirect_uri=${encodeURIComponent('https://a.example/bye')}`)
  t.equal(noClient.statusCode, 400)
  const hint = await app.inject('/logout?id_token_hint=not.a.jwt')
  t.equal(hint.statusCode, 400)
  const { tokens } = await signedIn()
  const mismatch = await app.inject(`/logout?client_id=${b.client.id}&id_token_hint=${tokens.id_token}`)
  t.equal(mismatch.statusCode, 400, 'client_id must match the hint audience')
})

t.test('signing in as another user ends the previous session', async (t) => {
  const { browser, tokens } = await signedIn()
  const erin = await createUser(app, 'erin')
  const page = await browser.follow(authorizeURL({ client_id: c.client.id, redirect_uri: 'https://c.example/cb', response_type: 'code', prompt: 'login' }))
  const done = await browser.signIn(page.res, 'erin', erin.password)
  t.ok(done.location?.searchParams.get('code'))
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: a.basic })
  t.equal(refresh.statusCode, 400, "dave's session (and its refresh tokens) ended")
})
