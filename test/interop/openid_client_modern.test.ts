/**
 * Interoperability of private_key_jwt, PAR and JAR with a certified relying-party library:
 * openid-client v6 against Stamp listening on 127.0.0.1 — client_credentials and the code flow
 * with `PrivateKeyJwt`, `buildAuthorizationUrlWithPAR`, `buildAuthorizationUrlWithJAR`, and a
 * fapi2-profile client (PAR, PKCE, private_key_jwt, DPoP); the sign-in goes through a cookie-keeping scripted browser.
 */
import t from 'tap'
import * as oidc from 'openid-client'
import { build, createClient, createUser } from '../helper.js'
import { Browser } from '../fixtures/browser.js'
import { freePort } from '../fixtures/process.js'
import { clientKey, jwksOf } from '../fixtures/client_keys.js'

const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const app = await build(t, { env: { ISSUER: issuer } })
await app.listen({ port, host: '127.0.0.1' })
const CB = 'http://127.0.0.1:9/callback'
const insecure = { execute: [oidc.allowInsecureRequests] }
const gina = await createUser(app, 'gina-modern')

const es256 = await clientKey('ES256')
const ps256 = await clientKey('PS256')

async function signIn (browser: Browser, url: URL): Promise<URL> {
  const page = await browser.follow(url.href)
  const done = page.location ?? (await browser.signIn(page.res, gina.username, gina.password)).location
  if (!done) throw new Error('no redirect back to the client')
  return done
}

t.test('PrivateKeyJwt client_credentials', async (t) => {
  const { client } = await createClient(app, { secretHash: null, tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(es256), scopes: ['read'] })
  const config = await oidc.discovery(new URL(issuer), client.id, undefined, oidc.PrivateKeyJwt({ key: es256.privateKey, kid: es256.kid }), insecure)
  t.ok(config.serverMetadata().token_endpoint_auth_methods_supported?.includes('private_key_jwt'))
  for (let i = 0; i < 3; i++) {
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' })
    t.equal(tokens.scope, 'read')
  }
  const introspection = await oidc.tokenIntrospection(config, (await oidc.clientCredentialsGrant(config)).access_token)
  t.equal(introspection.active, true)
})

t.test('code flow: PrivateKeyJwt + PAR, then JAR, then JAR inside PAR', async (t) => {
  const { client } = await createClient(app, {
    firstParty: true, secretHash: null, tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(es256),
    grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'profile', 'offline_access'], requirePkce: true,
  })
  const config = await oidc.discovery(new URL(issuer), client.id, undefined, oidc.PrivateKeyJwt({ key: es256.privateKey, kid: es256.kid }), insecure)
  t.ok(config.serverMetadata().pushed_authorization_request_endpoint)
  const browser = new Browser(app, issuer)

  const run = async (build: (params: Record<string, string>) => Promise<URL> | URL) => {
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = oidc.randomNonce()
    const state = oidc.randomState()
    const params = { redirect_uri: CB, scope: 'openid profile offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', nonce, state }
    const url = await build(params)
    const callback = await signIn(browser, url)
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true })
    t.equal(tokens.claims()!.sub, gina.user.id)
    return { url, tokens }
  }

  const par = await run((params) => oidc.buildAuthorizationUrlWithPAR(config, params))
  t.ok(par.url.searchParams.get('request_uri')?.startsWith('urn:ietf:params:oauth:request_uri:'))
  t.notOk(par.url.searchParams.get('scope'), 'only client_id and request_uri travel through the browser')
  const refreshed = await oidc.refreshTokenGrant(config, par.tokens.refresh_token!)
  t.ok(refreshed.access_token, 'refresh authenticates with private_key_jwt too')

  const jar = await run((params) => oidc.buildAuthorizationUrlWithJAR(config, params, { key: es256.privateKey, kid: es256.kid }))
  t.ok(jar.url.searchParams.get('request'))

  // JAR inside PAR: openid-client pushes the signed object.
  const both = await run(async (params) => {
    const signed = await oidc.buildAuthorizationUrlWithJAR(config, params, { key: es256.privateKey, kid: es256.kid })
    return oidc.buildAuthorizationUrlWithPAR(config, signed.searchParams)
  })
  t.ok(both.url.searchParams.get('request_uri'))
})

t.test('a fapi2 client: PAR + PKCE + private_key_jwt (PS256) + DPoP end to end; without PAR or DPoP refused', async (t) => {
  const { client } = await createClient(app, {
    firstParty: true, secretHash: null, tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(ps256),
    grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'],
    requirePkce: true, requirePushedAuthorizationRequests: true, profile: 'fapi2', dpopBoundAccessTokens: true,
  })
  const config = await oidc.discovery(new URL(issuer), client.id, undefined, oidc.PrivateKeyJwt({ key: ps256.privateKey, kid: ps256.kid }), insecure)
  const browser = new Browser(app, issuer)
  const verifier = oidc.randomPKCECodeVerifier()
  const params = { redirect_uri: CB, scope: 'openid offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: oidc.randomState() }

  const plain = oidc.buildAuthorizationUrl(config, params)
  const refused = await browser.follow(plain.href)
  t.equal(refused.location?.searchParams.get('error'), 'invalid_request', 'a plain authorization request is refused')

  const url = await oidc.buildAuthorizationUrlWithPAR(config, params)
  const callback = await signIn(browser, url)
  t.equal(callback.searchParams.get('iss'), issuer, 'RFC 9207 iss in the response')
  // FAPI 2.0 §5.3.2.1: sender-constrained tokens only. Without a DPoP proof the exchange is refused
  // before the code is looked at; with one, the tokens are DPoP-bound.
  const bare = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: params.state }).catch((err: unknown) => err)
  t.equal((bare as { error?: string }).error, 'invalid_dpop_proof', 'no DPoP proof: refused')
  const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: params.state }, undefined, { DPoP })
  t.equal(tokens.token_type, 'dpop')
  t.ok(tokens.access_token)
  t.ok(tokens.refresh_token)
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP })
  t.equal(refreshed.token_type, 'dpop')

  // Without PKCE the push itself is refused.
  const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = params
  const error = await oidc.buildAuthorizationUrlWithPAR(config, noPkce).catch((err: unknown) => err)
  t.equal((error as { error?: string }).error, 'invalid_request')
})
