import t from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { build, createClient, postForm } from '../helper.js'

t.test('client_credentials issues an RFC 9068 access token that verifies against the JWKS', async (t) => {
  const app = await build(t)
  const { client, basic } = await createClient(app)
  const res = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: basic })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, 300)
  t.equal(body.scope, 'read')
  t.notOk(body.refresh_token)
  const jwks = createLocalJWKSet((await app.inject('/jwks')).json())
  const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, { issuer: 'http://stamp.test', audience: 'https://api.example.com', typ: 'at+jwt', algorithms: ['RS256'] })
  t.equal(protectedHeader.alg, 'RS256')
  t.equal(payload.sub, client.id)
  t.equal(payload.client_id, client.id)
  t.ok(payload.jti)
  t.equal(payload.exp! - payload.iat!, 300)
})
