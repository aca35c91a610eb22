/**
 * Issue 11 items 5 and 9 over the admin API and at the browser endpoints: UUID-shaped client ids
 * refused; redirect, post-logout and back-channel logout URIs held to https / loopback http /
 * private-use schemes; loopback redirects take any port at request time (RFC 8252 §7.3).
 */
import t from 'tap'
import { build, createAdmin, createClient } from '../../helper.js'
import { authorizeURL, pkce } from '../../fixtures/browser.js'

t.test('client registration rules', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
  const admin = await createAdmin(app)
  const create = (payload: object) => app.inject({ method: 'POST', url: '/admin/clients', headers: { authorization: admin.authorization }, payload })
  const patch = (id: string, payload: object) => app.inject({ method: 'PATCH', url: `/admin/clients/${id}`, headers: { authorization: admin.authorization }, payload })

  t.test('a client_id may not be UUID-shaped', async (t) => {
    const res = await create({ name: 'x', client_id: admin.user.id })
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'invalid_request')
    t.match(res.json().error_description, /UUID/)
    t.equal((await create({ name: 'x', client_id: '0f8FAD5B-D9CB-469F-A165-70867728950E' })).statusCode, 400, 'any case')
    t.equal((await create({ name: 'x', client_id: 'not-a-uuid-1234' })).statusCode, 201)
  })

  t.test('redirect and logout URIs', async (t) => {
    const code = { name: 'web', grant_types: ['authorization_code'] }
    for (const uri of ['javascript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'vbscript:x', 'http://app.example/cb', 'https://*.example/cb', 'https://u:p@app.example/cb', 'https://app.example/cb#x', 'myapp:/cb']) {
      const res = await create({ ...code, redirect_uris: [uri] })
      t.equal(res.statusCode, 400, `redirect ${uri}`)
      t.equal(res.json().error, 'invalid_request')
      t.equal((await create({ name: 'x', post_logout_redirect_uris: [uri] })).statusCode, 400, `post-logout ${uri}`)
    }
    for (const uri of ['https://app.example/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost/cb', 'com.example.app:/oauth2redirect']) {
      t.equal((await create({ ...code, redirect_uris: [uri] })).statusCode, 201, `redirect ${uri}`)
    }
    t.equal((await create({ name: 'x', backchannel_logout_uri: 'http://rp.example/bcl' })).statusCode, 400, 'back-channel: http off loopback')
    t.equal((await create({ name: 'x', backchannel_logout_uri: 'com.example.app:/bcl' })).statusCode, 400, 'back-channel: no private-use scheme')
    t.equal((await create({ name: 'x', backchannel_logout_uri: 'http://127.0.0.1:9/bcl' })).statusCode, 201)
    t.equal((await create({ name: 'x', backchannel_logout_uri: 'https://rp.example/bcl' })).statusCode, 201)
    t.equal((await patch(admin.console.client.id, { redirect_uris: ['javascript:alert(1)'] })).statusCode, 400, 'PATCH too')
  })

  t.test('/authorize: loopback redirect with any port; unsafe registered URIs never used', async (t) => {
    const native = await createClient(app, { public: true, firstParty: true, grantTypes: ['authorization_code'], redirectUris: ['http://127.0.0.1/cb', 'com.example.app:/cb'], scopes: ['openid'] })
    const { challenge } = pkce()
    const ask = (redirect: string) => app.inject({ url: authorizeURL({ client_id: native.client.id, redirect_uri: redirect, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }).replace('http://stamp.test', '') })
    const port = await ask('http://127.0.0.1:49152/cb')
    t.equal(port.statusCode, 303, 'any port on a loopback IP (RFC 8252 §7.3)')
    t.match(port.headers.location, /\/login\?request=/)
    t.equal((await ask('http://127.0.0.1:49152/other')).statusCode, 400, 'the path must still match')
    // The whole flow, back to the port the app asked for.
    const { createUser, postForm } = await import('../../helper.js')
    const { Browser } = await import('../../fixtures/browser.js')
    const { username, password } = await createUser(app)
    const browser = new Browser(app)
    const pair = pkce()
    const page = await browser.follow(authorizeURL({ client_id: native.client.id, redirect_uri: 'http://127.0.0.1:49152/cb', response_type: 'code', scope: 'openid', code_challenge: pair.challenge, code_challenge_method: 'S256' }))
    const done = await browser.signIn(page.res, username, password)
    t.equal(done.location?.origin, 'http://127.0.0.1:49152', 'back to the requested port')
    const tokens = await postForm(app, '/token', { grant_type: 'authorization_code', client_id: native.client.id, code: done.location!.searchParams.get('code')!, redirect_uri: 'http://127.0.0.1:49152/cb', code_verifier: pair.verifier })
    t.equal(tokens.statusCode, 200, tokens.body)
    t.equal((await ask('com.example.app:/cb')).statusCode, 303, 'private-use scheme')
    // A client registered before these rules (straight into storage) with a javascript: URI.
    const legacy = await createClient(app, { grantTypes: ['authorization_code'], redirectUris: ['javascript:alert(1)//'], scopes: ['openid'] })
    const res = await app.inject({ url: `/authorize?${new URLSearchParams({ client_id: legacy.client.id, response_type: 'code', redirect_uri: 'javascript:alert(1)//' })}` })
    t.equal(res.statusCode, 400, 'an error page, never a redirect to javascript:')
    t.notOk(res.headers.location)
  })

  t.test('/logout: a registered javascript: post-logout URI is never followed', async (t) => {
    const legacy = await createClient(app, { postLogoutRedirectUris: ['javascript:alert(1)//'] })
    const res = await app.inject({ url: `/logout?${new URLSearchParams({ client_id: legacy.client.id, post_logout_redirect_uri: 'javascript:alert(1)//' })}` })
    t.equal(res.statusCode, 400)
    t.notOk(res.headers.location)
  })
})
