/**
 * /console as HTTP sees it: the built files with their security headers (strict CSP, no framing),
 * hashed assets cached for good, gzip when accepted, the app's HTML for its client-side routes,
 * the sign-in configuration, and CONSOLE=false.
 */
import t from 'tap'
import { gunzipSync } from 'node:zlib'
import { build } from '../../helper.js'
import { CONSOLE_CLIENT_ID } from '../../../src/domain/console_client.js'

t.test('the console files', async (t) => {
  const app = await build(t, { env: { ISSUER: 'https://id.example.com' } })

  t.equal((await app.inject('/console')).headers.location, '/console/')

  const index = await app.inject({ url: '/console/', headers: { 'accept-encoding': 'identity' } })
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], 'text/html')
  t.equal(index.headers['cache-control'], 'no-cache')
  const csp = String(index.headers['content-security-policy'])
  t.match(csp, "script-src 'self'")
  t.match(csp, "frame-ancestors 'none'")
  t.match(csp, "default-src 'none'")
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no inline script or eval')
  t.equal(index.headers['x-frame-options'], 'DENY')
  t.equal(index.headers['referrer-policy'], 'no-referrer')
  t.notMatch(index.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'index.html has no inline script')
  t.notMatch(index.body, /\sstyle="/, 'and no style attribute')

  const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(index.body)![1]
  const asset = await app.inject({ url: script, headers: { 'accept-encoding': 'gzip, br' } })
  t.equal(asset.statusCode, 200)
  t.equal(asset.headers['content-encoding'], 'gzip')
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.match(asset.headers['content-type'], 'text/javascript')
  t.ok(gunzipSync(asset.rawPayload).length > asset.rawPayload.length, 'compressed')
  const again = await app.inject({ url: script, headers: { 'if-none-match': String(asset.headers.etag) } })
  t.equal(again.statusCode, 304, 'revalidation by ETag')

  t.equal((await app.inject('/console/assets/index-stale.js')).statusCode, 404, 'a stale hashed file is 404, not HTML')
  const route = await app.inject('/console/users?id=x')
  t.equal(route.statusCode, 200)
  t.match(route.headers['content-type'], 'text/html', 'client-side routes get the app')

  const config = await app.inject('/console/config.json')
  t.same(config.json(), {
    issuer: 'https://id.example.com',
    client_id: CONSOLE_CLIENT_ID,
    redirect_uri: 'https://id.example.com/console/callback',
    scope: 'openid profile stamp:admin',
    authorization_endpoint: 'https://id.example.com/authorize',
    token_endpoint: 'https://id.example.com/token',
    revocation_endpoint: 'https://id.example.com/revoke',
    end_session_endpoint: 'https://id.example.com/logout',
    sign_in_unavailable: null,
  })
  t.equal(config.headers['cache-control'], 'no-store')

  const client = await app.clientStore.find(CONSOLE_CLIENT_ID)
  t.ok(client, 'the console client was registered at boot')
  t.same(client!.redirectUris, ['https://id.example.com/console/callback'])
})

t.test('an http issuer on a public host cannot sign in to the console, and says so', async (t) => {
  const app = await build(t)
  t.equal(await app.clientStore.find(CONSOLE_CLIENT_ID), null, 'no client with an unusable redirect URI')
  t.match((await app.inject('/console/config.json')).json().sign_in_unavailable, 'http')
})

t.test('CONSOLE=false serves nothing and registers nothing', async (t) => {
  const app = await build(t, { env: { ISSUER: 'https://id.example.com', CONSOLE: 'false' } })
  t.equal((await app.inject('/console/')).statusCode, 404)
  t.equal(await app.clientStore.find(CONSOLE_CLIENT_ID), null)
})
