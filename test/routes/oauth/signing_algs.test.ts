/**
 * A client's registered signing algorithms (OpenID Connect Dynamic Client Registration 1.0 §2):
 * `token_endpoint_auth_signing_alg` — "All Token Requests using these authentication methods from
 * this Client MUST be rejected, if the JWT is not signed with this algorithm" — and
 * `request_object_signing_alg` — "All Request Objects from this Client MUST be rejected, if not
 * signed with this algorithm". Through /register (and RFC 7592 reads), the admin API and the
 * checks at /token, /revoke, /par and /authorize.
 *
 * The RSA key is registered without an `alg` member, so without the pin it would verify RS256 and
 * PS256 alike: an RS256 assertion passing is exactly what the pin must stop.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createAdmin, createTestDatabase, postForm, testConfig } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../../fixtures/browser.js'
import { JWT_BEARER_ASSERTION } from '../../../src/domain/client_assertion.js'

const CB = 'https://app.example/cb'
const url = await createTestDatabase(t)
const base = testConfig(url, { REGISTRATION: 'open' })
const app = await build(t, { databaseUrl: url, config: { ...base, policy: { ...base.policy, registration: { ...base.policy.registration, rateLimit: 1000 } } } })

// One RSA key pair, imported for both RSA algorithms; its public JWK names no alg.
const pair = await generateKeyPair('PS256', { extractable: true })
const privateJwk = await exportJWK(pair.privateKey)
const { kty, n, e } = await exportJWK(pair.publicKey)
const publicJwk: JWK = { kty, n, e, kid: 'rsa-1', use: 'sig' }
const signers: Record<string, CryptoKey> = {
  PS256: await importJWK(privateJwk, 'PS256') as CryptoKey,
  RS256: await importJWK(privateJwk, 'RS256') as CryptoKey,
}

function register (body: unknown, app_: FastifyInstance = app) {
  return app_.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
}

function assertion (alg: string, clientId: string) {
  return new SignJWT({}).setProtectedHeader({ alg, kid: 'rsa-1' }).setIssuer(clientId).setSubject(clientId)
    .setAudience(ISSUER).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s').sign(signers[alg])
}

function requestObject (alg: string, clientId: string, params: Record<string, string>) {
  return new SignJWT({ client_id: clientId, ...params }).setProtectedHeader({ alg, kid: 'rsa-1', typ: 'oauth-authz-req+jwt' })
    .setIssuer(clientId).setAudience(ISSUER).setIssuedAt().setExpirationTime('60s').sign(signers[alg])
}

const { challenge } = pkce()
const authParams = { response_type: 'code', redirect_uri: CB, scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }

async function revoke (alg: string, clientId: string) {
  return postForm(app, '/revoke', { token: 'whatever', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(alg, clientId) })
}

t.test('without a registered algorithm, RS256 and PS256 both authenticate (the baseline the pin narrows)', async (t) => {
  const res = await register({ client_name: 'Any', redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } })
  t.equal(res.statusCode, 201, res.body)
  const info = res.json()
  t.notOk('token_endpoint_auth_signing_alg' in info, 'nothing registered, nothing echoed')
  t.equal((await revoke('RS256', info.client_id)).statusCode, 200)
  t.equal((await revoke('PS256', info.client_id)).statusCode, 200)
})

t.test('token_endpoint_auth_signing_alg: registered, echoed, and every other algorithm refused', async (t) => {
  const res = await register({ client_name: 'Pinned', redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'PS256', jwks: { keys: [publicJwk] } })
  t.equal(res.statusCode, 201, res.body)
  const info = res.json()
  t.equal(info.token_endpoint_auth_signing_alg, 'PS256', 'echoed in the registration response')
  t.equal((await app.clientStore.find(info.client_id))?.tokenEndpointAuthSigningAlg, 'PS256', 'stored')
  const read = await app.inject({ method: 'GET', url: `/register/${info.client_id}`, headers: { authorization: `Bearer ${info.registration_access_token}` } })
  t.equal(read.json().token_endpoint_auth_signing_alg, 'PS256', 'and in the RFC 7592 read')

  t.equal((await revoke('PS256', info.client_id)).statusCode, 200, 'the registered algorithm authenticates')
  const refused = await revoke('RS256', info.client_id)
  t.equal(refused.statusCode, 401, 'another algorithm is refused, although the key would verify it')
  t.equal(refused.json().error, 'invalid_client')
  t.match(refused.json().error_description, /PS256/, 'the description names the registered algorithm')
  t.equal(refused.headers['cache-control'], 'no-store')
  const token = await postForm(app, '/token', { grant_type: 'authorization_code', code: 'unknown', redirect_uri: CB, code_verifier: 'x'.repeat(43), client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion('RS256', info.client_id) })
  t.equal(token.statusCode, 401, 'at /token as well')
  const audit = (await app.auditStore.list({ type: 'client_authentication_failed', limit: 100 })).filter((e) => e.clientId === info.client_id)
  t.ok(audit.length >= 2, 'the refusals are audited as failed client authentications')
})

t.test('request_object_signing_alg: only objects signed with it are accepted, at /par and /authorize', async (t) => {
  const res = await register({ client_name: 'JAR', redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', request_object_signing_alg: 'PS256', jwks: { keys: [publicJwk] } })
  t.equal(res.statusCode, 201, res.body)
  const info = res.json()
  t.equal(info.request_object_signing_alg, 'PS256')
  const clientId = info.client_id as string
  const push = async (alg: string) => postForm(app, '/par', {
    client_id: clientId,
    request: await requestObject(alg, clientId, authParams),
    client_assertion_type: JWT_BEARER_ASSERTION,
    client_assertion: await assertion('PS256', clientId),
  })
  t.equal((await push('PS256')).statusCode, 201, 'the registered algorithm')
  const refused = await push('RS256')
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().error, 'invalid_request_object')
  t.match(refused.json().error_description, /PS256/)

  const direct = await new Browser(app).get(authorizeURL({ client_id: clientId, request: await requestObject('RS256', clientId, authParams) }))
  t.equal(direct.statusCode, 400, 'at /authorize too')
  t.notOk(direct.headers.location, 'never redirected')
  t.match(direct.body, /invalid_request_object.*PS256/s)
  t.notOk((await app.clientStore.find(clientId))?.tokenEndpointAuthSigningAlg, 'one pin does not set the other')
  t.equal((await revoke('RS256', clientId)).statusCode, 200, 'assertions stay free to use either')
})

t.test('registration refusals (invalid_client_metadata)', async (t) => {
  const metadata = { client_name: 'Bad', redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } }
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['HMAC', { token_endpoint_auth_signing_alg: 'HS256' }, /token_endpoint_auth_signing_alg/],
    ['none', { token_endpoint_auth_signing_alg: 'none' }, /token_endpoint_auth_signing_alg/],
    ['not a string', { token_endpoint_auth_signing_alg: ['PS256'] }, /token_endpoint_auth_signing_alg/],
    ['unsigned request objects', { request_object_signing_alg: 'none' }, /request_object_signing_alg/],
    ['an unknown algorithm', { request_object_signing_alg: 'ES512' }, /request_object_signing_alg/],
    ['no registered key can sign it', { token_endpoint_auth_signing_alg: 'ES256' }, /no registered key/],
    ['an assertion algorithm for a secret method', { token_endpoint_auth_method: 'client_secret_basic', jwks: undefined, token_endpoint_auth_signing_alg: 'PS256' }, /private_key_jwt/],
  ]
  for (const [name, change, pattern] of cases) {
    const res = await register({ ...metadata, ...change })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().error, 'invalid_client_metadata', name)
    t.match(res.json().error_description, pattern, name)
  }
})

t.test('admin API: set, shown, cleared; the fapi2 profile allows only its algorithms', async (t) => {
  const admin = await createAdmin(app)
  const call = (method: 'POST' | 'PATCH', path: string, payload: object) => app.inject({ method, url: `/admin${path}`, payload, headers: { authorization: admin.authorization } })
  const created = await call('POST', '/clients', { name: 'Bank', grant_types: ['authorization_code'], redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] }, token_endpoint_auth_signing_alg: 'PS256', request_object_signing_alg: 'PS256' })
  t.equal(created.statusCode, 201, created.body)
  t.match(created.json(), { token_endpoint_auth_signing_alg: 'PS256', request_object_signing_alg: 'PS256' })
  const id = created.json().client_id as string
  t.equal((await revoke('RS256', id)).statusCode, 401, 'pinned through the admin API too')
  const cleared = await call('PATCH', `/clients/${id}`, { token_endpoint_auth_signing_alg: null })
  t.equal(cleared.statusCode, 200, cleared.body)
  t.equal(cleared.json().token_endpoint_auth_signing_alg, null)
  t.equal(cleared.json().request_object_signing_alg, 'PS256', 'the other stays')
  t.equal((await revoke('RS256', id)).statusCode, 200, 'the change reaches the client cache at once')
  const hmac = await call('PATCH', `/clients/${id}`, { token_endpoint_auth_signing_alg: 'HS256' })
  t.equal(hmac.statusCode, 400)
  const fapi = await call('POST', '/clients', { name: 'FAPI', grant_types: ['authorization_code'], redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] }, profile: 'fapi2', token_endpoint_auth_signing_alg: 'RS256' })
  t.equal(fapi.statusCode, 400, 'FAPI 2.0 §5.4.1: not RS256')
  t.match(fapi.json().error_description, /PS256, ES256, EdDSA/)
  const secretClient = await call('POST', '/clients', { name: 'Secret', grant_types: ['client_credentials'], token_endpoint_auth_signing_alg: 'PS256' })
  t.equal(secretClient.statusCode, 400, 'only for private_key_jwt')
})

t.test('discovery still lists every algorithm a client may register', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json()
  t.same(doc.token_endpoint_auth_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA'])
  t.same(doc.request_object_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA'])
})
