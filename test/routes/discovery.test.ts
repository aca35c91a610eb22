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
  for (const name of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    t.ok(oidc[name].startsWith(oidc.issuer), name)
    const res = await app.inject({ method: 'POST', url: oidc[name].slice(oidc.issuer.length), headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
    t.not(res.statusCode, 404, `${name} is routed`)
  }
  const jwks = await app.inject(oidc.jwks_uri.slice(oidc.issuer.length))
  t.equal(jwks.statusCode, 200)
  t.ok(oidc.id_token_signing_alg_values_supported.includes('RS256'))
})
