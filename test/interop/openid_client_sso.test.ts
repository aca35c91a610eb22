/**
 * Interoperability with a certified relying-party library: openid-client v6 runs discovery, the
 * code flow with PKCE and nonce (validating the ID Token), userinfo, refresh and RP-initiated
 * logout against Stamp listening on 127.0.0.1; a second app then gets single sign-on.
 */
import t from 'tap'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import * as oidc from 'openid-client'
import { buildApp } from '../../src/app.js'
import { createClient, createTestDatabase, createUser, testConfig } from '../helper.js'
import { Browser } from '../fixtures/browser.js'

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const url = await createTestDatabase(t)
const app = await buildApp({ config: testConfig(url, { ISSUER: issuer }), database: { url, poolMax: 5 }, scheduleKeys: false })
await app.listen({ port, host: '127.0.0.1' })
t.teardown(() => app.close())

const A_CB = 'http://127.0.0.1:9/a/callback'
const B_CB = 'http://127.0.0.1:9/b/callback'
const a = await createClient(app, {
  name: 'Interop A', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [A_CB],
  postLogoutRedirectUris: ['http://127.0.0.1:9/a/bye'], scopes: ['openid', 'profile', 'email', 'offline_access'],
})
const b = await createClient(app, { name: 'Interop B', public: true, firstParty: true, grantTypes: ['authorization_code'], redirectUris: [B_CB], scopes: ['openid', 'profile'] })
const frank = await createUser(app, 'frank')
const browser = new Browser(app, issuer)
const insecure = { execute: [oidc.allowInsecureRequests] }

t.test('code flow with PKCE and nonce, userinfo, refresh, SSO, logout', async (t) => {
  const configA = await oidc.discovery(new URL(issuer), a.client.id, a.secret!, oidc.ClientSecretBasic(a.secret!), insecure)
  t.equal(configA.serverMetadata().issuer, issuer)
  t.ok(configA.serverMetadata().supportsPKCE())

  const verifier = oidc.randomPKCECodeVerifier()
  const nonce = oidc.randomNonce()
  const state = oidc.randomState()
  const authUrl = oidc.buildAuthorizationUrl(configA, {
    redirect_uri: A_CB, scope: 'openid profile email offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256', nonce, state,
  })
  const page = await browser.follow(authUrl.href)
  t.equal(page.res.statusCode, 200)
  const callback = (await browser.signIn(page.res, 'frank', frank.password)).location!
  t.ok(callback.href.startsWith(A_CB))

  const tokens = await oidc.authorizationCodeGrant(configA, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true })
  const claims = tokens.claims()!
  t.equal(claims.sub, frank.user.id)
  t.equal(claims.nonce, nonce)
  t.equal(claims.preferred_username, 'frank')
  t.ok(tokens.refresh_token)

  const info = await oidc.fetchUserInfo(configA, tokens.access_token, claims.sub)
  t.equal(info.email, 'frank@example.com')
  t.equal(info.preferred_username, 'frank')

  const refreshed = await oidc.refreshTokenGrant(configA, tokens.refresh_token!)
  t.ok(refreshed.access_token)
  t.not(refreshed.refresh_token, tokens.refresh_token, 'rotated')

  // A second app (public client, PKCE) in the same browser: no form.
  const configB = await oidc.discovery(new URL(issuer), b.client.id, undefined, oidc.None(), insecure)
  const verifierB = oidc.randomPKCECodeVerifier()
  const nonceB = oidc.randomNonce()
  const authB = oidc.buildAuthorizationUrl(configB, { redirect_uri: B_CB, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifierB), code_challenge_method: 'S256', nonce: nonceB })
  const sso = await browser.follow(authB.href)
  t.ok(sso.location, 'app B got its code without the login form')
  const tokensB = await oidc.authorizationCodeGrant(configB, sso.location!, { pkceCodeVerifier: verifierB, expectedNonce: nonceB })
  t.equal(tokensB.claims()!.sub, frank.user.id)
  t.equal(tokensB.claims()!.sid, claims.sid, 'same SSO session')

  const endUrl = oidc.buildEndSessionUrl(configA, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/a/bye', state: 'out' })
  const out = await browser.follow(endUrl.href)
  t.equal(out.location?.href, 'http://127.0.0.1:9/a/bye?state=out')
  const refreshError = await oidc.refreshTokenGrant(configA, refreshed.refresh_token!).then(() => null, (err: { error?: string }) => err)
  t.equal(refreshError?.error, 'invalid_grant', 'refresh fails after logout')
  await t.rejects(oidc.fetchUserInfo(configB, tokensB.access_token, claims.sub), 'userinfo fails after logout')
})
