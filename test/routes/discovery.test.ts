import t from 'tap'
import { build } from '../helper.js'
import { grants } from '../../src/grants/index.js'

t.test('discovery documents match what the server serves', async (t) => {
  const app = await build(t)
  const oidc = (await app.inject('/.well-known/openid-configuration')).json()
  const oauth = (await app.inject('/.well-known/oauth-authorization-server')).json()
  t.same(oidc, oauth)
  t.equal(oidc.issuer, 'http://stamp.test')
  t.same(oidc.grant_types_supported, grants.map((g) => g.grantType))
  for (const name of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'pushed_authorization_request_endpoint']) {
    t.ok(oidc[name].startsWith(oidc.issuer), name)
    const res = await app.inject({ method: 'POST', url: oidc[name].slice(oidc.issuer.length), headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
    t.not(res.statusCode, 404, `${name} is routed`)
  }
  const jwks = await app.inject(oidc.jwks_uri.slice(oidc.issuer.length))
  t.equal(jwks.statusCode, 200)
  t.ok(oidc.id_token_signing_alg_values_supported.includes('RS256'))
  // private_key_jwt (RFC 7523), PAR (RFC 9126), JAR (RFC 9101): docs/modern-oauth.md.
  const clientAlgs = ['RS256', 'PS256', 'ES256', 'EdDSA']
  t.same(oidc.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
  t.same(oidc.revocation_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'private_key_jwt'])
  for (const endpoint of ['token', 'revocation', 'introspection']) t.same(oidc[`${endpoint}_endpoint_auth_signing_alg_values_supported`], clientAlgs)
  t.equal(oidc.require_pushed_authorization_requests, false)
  t.equal(oidc.request_parameter_supported, true)
  t.equal(oidc.request_uri_parameter_supported, false, 'only PAR references, which this flag does not describe')
  t.same(oidc.request_object_signing_alg_values_supported, clientAlgs)
  t.equal(oidc.authorization_response_iss_parameter_supported, true)
})

t.test('REQUIRE_PUSHED_AUTHORIZATION_REQUESTS is advertised and enforced', async (t) => {
  const { createClient } = await import('../helper.js')
  const { Browser, authorizeURL, pkce } = await import('../fixtures/browser.js')
  const app = await build(t, { env: { REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: 'true' } })
  t.equal((await app.inject('/.well-known/openid-configuration')).json().require_pushed_authorization_requests, true)
  const web = await createClient(app, { grantTypes: ['authorization_code'], redirectUris: ['https://app.example/cb'], scopes: ['openid'] })
  const res = await new Browser(app).get(authorizeURL({ client_id: web.client.id, redirect_uri: 'https://app.example/cb', response_type: 'code', scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' }))
  t.equal(new URL(String(res.headers.location)).searchParams.get('error'), 'invalid_request')
})
