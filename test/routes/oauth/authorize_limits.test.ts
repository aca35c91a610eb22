/**
 * /authorize writes a row for every anonymous request that needs a sign-in, so what one address
 * and one browser can park is bounded: a per-IP rate limit (HTML answer, 429 + Retry-After), a
 * cap on parked requests per browser (the oldest are dropped), and short field limits.
 */
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, createClient } from '../../helper.js'
import { Browser, authorizeURL, pkce } from '../../fixtures/browser.js'
import { AUTHORIZATION_REQUEST_LIMITS } from '../../../src/domain/authorization_request.js'
import { defaults } from '../../../src/config/defaults.js'

const CB = 'https://app.example/cb'
const { challenge } = pkce()

async function spa (app: FastifyInstance) {
  return createClient(app, { name: 'SPA', public: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
}

function params (clientId: string, extra: Record<string, string> = {}) {
  return { client_id: clientId, redirect_uri: CB, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', ...extra }
}

const parked = (app: FastifyInstance) => app.prisma.authorizationRequest.count()

t.test('/authorize is rate limited per IP, with an HTML page, 429 and Retry-After', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_AUTHORIZE_MAX: '3', RATE_LIMIT_WINDOW: '60' } })
  const { client } = await spa(app)
  const get = (remoteAddress: string) => app.inject({ method: 'GET', url: authorizeURL(params(client.id)).replace('http://stamp.test', ''), remoteAddress })
  for (let i = 0; i < 3; i++) t.equal((await get('198.51.100.20')).statusCode, 303)
  const limited = await get('198.51.100.20')
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /text\/html/, 'a page for the browser, not JSON')
  t.match(limited.body, /Too many requests/i)
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, 'Retry-After in seconds')
  t.match(String(limited.headers['content-security-policy']), /frame-ancestors 'none'/, 'with the hosted pages\' headers')
  t.equal(limited.headers['cache-control'], 'no-store')
  t.equal(await parked(app), 3, 'the refused request parked nothing')
  const post = await app.inject({ method: 'POST', url: '/authorize', remoteAddress: '198.51.100.20', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(params(client.id)).toString() })
  t.equal(post.statusCode, 429, 'POST /authorize shares the budget')
  t.equal((await get('198.51.100.21')).statusCode, 303, 'another IP has its own budget')
})

t.test('/userinfo is rate limited per IP (JSON, 429, Retry-After)', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_USERINFO_MAX: '2' } })
  const get = () => app.inject({ method: 'GET', url: '/userinfo', remoteAddress: '198.51.100.30', headers: { authorization: 'Bearer not.a.token' } })
  t.equal((await get()).statusCode, 401)
  t.equal((await get()).statusCode, 401)
  const limited = await get()
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().error, 'temporarily_unavailable')
  t.ok(Number(limited.headers['retry-after']) > 0)
})

t.test('a throttled login form answers with a page too', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_LOGIN_MAX: '1' } })
  const post = () => app.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.40', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'request=x&username=a&password=b' })
  await post()
  const limited = await post()
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /text\/html/)
  t.ok(limited.headers['retry-after'])
})

t.test('parked requests per browser are capped: the oldest are dropped, the newest work', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
  const { client } = await spa(app)
  const browser = new Browser(app)
  const cap = defaults.parkedRequestsPerBrowser
  const ids: string[] = []
  for (let i = 0; i < cap + 5; i++) {
    const res = await browser.get(authorizeURL(params(client.id, { state: `s${i}` })))
    t.equal(res.statusCode, 303)
    ids.push(new URL(String(res.headers.location)).searchParams.get('request')!)
  }
  t.equal(await parked(app), cap, `at most ${cap} parked requests for one browser`)
  t.equal((await browser.get(`/login?request=${ids.at(-1)}`)).statusCode, 200, 'the newest request still signs in')
  t.equal((await browser.get(`/login?request=${ids[cap + 5 - cap]}`)).statusCode, 200, 'the oldest kept one too')
  t.equal((await browser.get(`/login?request=${ids[0]}`)).statusCode, 400, 'the oldest was dropped')
  await new Browser(app).get(authorizeURL(params(client.id)))
  t.equal(await parked(app), cap + 1, 'another browser has its own allowance')
})

t.test('field limits of parked requests, from one named place', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
  const { client } = await spa(app)
  t.ok(AUTHORIZATION_REQUEST_LIMITS.state <= 512 && AUTHORIZATION_REQUEST_LIMITS.nonce <= 255 && AUTHORIZATION_REQUEST_LIMITS.login_hint <= 255)
  for (const name of ['state', 'nonce', 'login_hint'] as const) {
    const max = AUTHORIZATION_REQUEST_LIMITS[name]
    const ok = await new Browser(app).get(authorizeURL(params(client.id, { [name]: 'x'.repeat(max) })))
    t.equal(new URL(String(ok.headers.location), 'http://stamp.test').pathname, '/login', `${name} of ${max} characters is accepted`)
    const long = await new Browser(app).get(authorizeURL(params(client.id, { [name]: 'x'.repeat(max + 1) })))
    const location = new URL(String(long.headers.location))
    t.equal(location.origin + location.pathname, CB, `${name} of ${max + 1} characters goes back to the client`)
    t.equal(location.searchParams.get('error'), 'invalid_request')
    t.match(location.searchParams.get('error_description'), new RegExp(`${name} is too long`))
  }
  t.equal(await parked(app), 3, 'only the requests within the limits were parked')
})
