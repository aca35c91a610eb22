/**
 * private_key_jwt through dynamic client registration (RFC 7591 §2, RFC 7523 §2.2): a client
 * registers its public keys (`jwks` or `jwks_uri`) over HTTP and then authenticates at /token and
 * /revoke with assertions signed here; the registration's refusals.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createTestDatabase, postForm, testConfig } from '../../helper.js'
import { JWT_BEARER_ASSERTION } from '../../../src/domain/client_assertion.js'

const ISSUER = 'http://stamp.test'
const CB = 'http://127.0.0.1:49152/callback'

function register (app: FastifyInstance, body: unknown) {
  return app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
}

async function es256 (kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  return { privateKey, publicJwk: { ...await exportJWK(publicKey), kid, alg: 'ES256', use: 'sig' }, privateJwk: await exportJWK(privateKey) }
}

const assertion = (key: CryptoKey, clientId: string, claims: { aud?: string, jti?: string, alg?: string } = {}) =>
  new SignJWT({}).setProtectedHeader({ alg: claims.alg ?? 'ES256', kid: 'k1' }).setIssuer(clientId).setSubject(clientId)
    .setAudience(claims.aud ?? ISSUER).setJti(claims.jti ?? randomUUID()).setIssuedAt().setExpirationTime('60s').sign(key)

t.test('a client registered with jwks authenticates with private_key_jwt; refusals', async (t) => {
  const url = await createTestDatabase(t)
  const base = testConfig(url, { REGISTRATION: 'open' })
  const app = await build(t, { databaseUrl: url, config: { ...base, policy: { ...base.policy, registration: { ...base.policy.registration, rateLimit: 1000 } } } })
  const key = await es256('k1')
  const other = await es256('k1')
  const metadata = { client_name: 'Signed', redirect_uris: [CB], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } }

  const registered = await register(app, metadata)
  t.equal(registered.statusCode, 201, registered.body)
  const info = registered.json()
  t.equal(info.token_endpoint_auth_method, 'private_key_jwt')
  t.notOk('client_secret' in info, 'no secret is issued to a private_key_jwt client')
  t.notOk('client_secret_expires_at' in info, 'RFC 7591 §3.2.1: only with a secret')
  t.same(info.jwks, { keys: [key.publicJwk] }, 'the public keys are echoed')
  const stored = await app.clientStore.find(info.client_id)
  t.equal(stored?.secretHash, null)
  t.equal(stored?.tokenEndpointAuthMethod, 'private_key_jwt')

  const form = async (signer: CryptoKey, claims?: Parameters<typeof assertion>[2]) => ({ client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(signer, info.client_id, claims) })
  // The client authenticated: the grant itself is what fails (an unknown code).
  const token = await postForm(app, '/token', { grant_type: 'authorization_code', code: 'unknown', redirect_uri: CB, code_verifier: 'x'.repeat(43), ...await form(key.privateKey) })
  t.equal(token.statusCode, 400, token.body)
  t.equal(token.json().error, 'invalid_grant')
  const revoke = await postForm(app, '/revoke', { token: 'whatever', ...await form(key.privateKey) })
  t.equal(revoke.statusCode, 200, 'revocation accepts the assertion')

  const wrongKey = await postForm(app, '/token', { grant_type: 'authorization_code', code: 'unknown', redirect_uri: CB, code_verifier: 'x'.repeat(43), ...await form(other.privateKey) })
  t.equal(wrongKey.statusCode, 401)
  t.equal(wrongKey.json().error, 'invalid_client')
  const jti = randomUUID()
  t.equal((await postForm(app, '/revoke', { token: 'a', ...await form(key.privateKey, { jti }) })).statusCode, 200)
  const replayed = await postForm(app, '/revoke', { token: 'a', ...await form(key.privateKey, { jti }) })
  t.equal(replayed.statusCode, 401, 'a jti is single use')
  t.match(replayed.json().error_description, /used before/)
  const wrongAud = await postForm(app, '/revoke', { token: 'a', ...await form(key.privateKey, { aud: 'https://elsewhere.example' }) })
  t.equal(wrongAud.statusCode, 401, 'aud must be the issuer or the endpoint')
  const basicAttempt = await postForm(app, '/revoke', { token: 'a', client_id: info.client_id, client_secret: 'guess' })
  t.equal(basicAttempt.statusCode, 401, 'no secret method works for it')

  t.test('refusals (RFC 7591 §3.2.2 invalid_client_metadata)', async (t) => {
    const cases: Array<[string, unknown]> = [
      ['neither jwks nor jwks_uri', { ...metadata, jwks: undefined }],
      ['both jwks and jwks_uri', { ...metadata, jwks_uri: 'https://client.example/jwks' }],
      ['a private key in the set', { ...metadata, jwks: { keys: [{ ...key.privateJwk, kid: 'k1' }] } }],
      ['an HMAC key', { ...metadata, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }] } }],
      ['an algorithm off the allow-list', { ...metadata, jwks: { keys: [{ ...key.publicJwk, alg: 'HS256' }] } }],
      ['not a JWK Set', { ...metadata, jwks: [key.publicJwk] }],
      ['an http jwks_uri', { ...metadata, jwks: undefined, jwks_uri: 'http://client.example/jwks' }],
      ['a jwks_uri with credentials', { ...metadata, jwks: undefined, jwks_uri: 'https://u:p@client.example/jwks' }],
      ['a relative jwks_uri', { ...metadata, jwks: undefined, jwks_uri: '/jwks' }],
    ]
    for (const [what, body] of cases) {
      const response = await register(app, body)
      t.equal(response.statusCode, 400, what)
      t.equal(response.json().error, 'invalid_client_metadata', what)
      t.equal(response.headers['cache-control'], 'no-store', what)
    }
    t.equal(await app.prisma.client.count({ where: { origin: 'dcr' } }), 1, 'nothing half-written')
  })

  t.test('jwks_uri: stored, fetched only through the hardened fetcher', async (t) => {
    const response = await register(app, { ...metadata, jwks: undefined, jwks_uri: 'https://client.example/jwks.json' })
    t.equal(response.statusCode, 201, response.body)
    const client = response.json()
    t.equal(client.jwks_uri, 'https://client.example/jwks.json')
    t.notOk('client_secret' in client)
    // client.example is not resolvable here: the fetch fails, and the assertion is refused, never accepted.
    const refused = await postForm(app, '/revoke', { token: 'a', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(key.privateKey, client.client_id) })
    t.equal(refused.statusCode, 401)
    t.equal(refused.json().error, 'invalid_client')
  })

  t.test('RFC 7592 update: to client_secret_basic gets a secret, back to private_key_jwt drops it', async (t) => {
    const created = (await register(app, metadata)).json()
    const put = (body: unknown) => app.inject({ method: 'PUT', url: `/register/${created.client_id}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${created.registration_access_token}` }, payload: JSON.stringify(body) })
    const toBasic = await put({ client_id: created.client_id, client_name: 'Signed', redirect_uris: [CB], token_endpoint_auth_method: 'client_secret_basic' })
    t.equal(toBasic.statusCode, 200, toBasic.body)
    t.type(toBasic.json().client_secret, 'string')
    t.equal((await app.clientStore.find(created.client_id))?.jwks, null)
    const back = await put({ ...metadata, client_id: created.client_id })
    t.equal(back.statusCode, 200, back.body)
    t.notOk('client_secret' in back.json())
    const row = await app.clientStore.find(created.client_id)
    t.equal(row?.secretHash, null, 'the secret is gone')
    t.equal((await postForm(app, '/revoke', { token: 'a', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(key.privateKey, created.client_id) })).statusCode, 200)
  })
})
