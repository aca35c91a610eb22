/**
 * private_key_jwt (RFC 7523 §2.2 and §3, OIDC Core §9) at /token, /revoke and /introspect: what
 * is accepted, each refusal (invalid_client 401, audited), replay across two instances, and a
 * remote jwks_uri (loopback https server, injected DNS): rotation, cooldown, slow and oversized.
 */
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createTestDatabase, postForm, testConfig } from '../../helper.js'
import { fakeDNS, json, selfSignedCertificate, startDocumentServer } from '../../fixtures/document_server.js'
import { assertion, clientKey, hmacSigned, jwksOf, unsecured, type ClientKey } from '../../fixtures/client_keys.js'
import { JWT_BEARER_ASSERTION } from '../../../src/domain/client_assertion.js'

const ISSUER = 'http://stamp.test'
const HOST = 'keys.client.test'
const tls = selfSignedCertificate([HOST])
const server = await startDocumentServer({ tls })
t.teardown(() => server.close())
const dns = fakeDNS({ [HOST]: ['127.0.0.1'] })
const keysUrl = (path: string) => `https://${HOST}:${server.port}${path}`

const url = await createTestDatabase(t)
const config = testConfig(url, { CLIENT_METADATA_ALLOW_LOOPBACK: 'true', CLIENT_JWKS_REFETCH_COOLDOWN: '1' })
// A slow JWKS endpoint must not hold a token request for long: a short fetch timeout here.
config.policy = { ...config.policy, clientKeys: { ...config.policy.clientKeys, jwksTimeoutMs: 500, jwksMaxBytes: 4096 } }
const app = await build(t, { databaseUrl: url, config, clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })

async function keyClient (app: FastifyInstance, keys: { jwks?: ReturnType<typeof jwksOf>, jwksUri?: string }, overrides = {}) {
  const { client } = await createClient(app, { secretHash: null, tokenEndpointAuthMethod: 'private_key_jwt', jwks: keys.jwks ?? null, jwksUri: keys.jwksUri ?? null, ...overrides })
  return client
}

function token (app: FastifyInstance, jwt: string, extra: Record<string, string> = {}) {
  return postForm(app, '/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: jwt, ...extra })
}

async function refused (t: Test, res: { statusCode: number, json(): unknown, headers: Record<string, unknown> }, description: RegExp, message: string) {
  t.equal(res.statusCode, 401, message)
  t.match(res.json(), { error: 'invalid_client', error_description: description }, message)
  t.equal(res.headers['cache-control'], 'no-store')
}

const es256 = await clientKey('ES256')
const eddsa = await clientKey('EdDSA')
const inline = await keyClient(app, { jwks: jwksOf(es256, eddsa) })

t.test('a valid assertion authenticates at /token, /revoke and /introspect', async (t) => {
  for (const [key, aud] of [[es256, ISSUER], [eddsa, `${ISSUER}/token`], [es256, ['https://other.example', ISSUER]]] as Array<[ClientKey, string | string[]]>) {
    const res = await token(app, await assertion(key, inline.id, aud), { scope: 'read' })
    t.equal(res.statusCode, 200, `${key.alg} aud ${JSON.stringify(aud)}: ${res.body}`)
  }
  // RFC 7521 §4.2: client_id may be sent too, and must match.
  const withId = await token(app, await assertion(es256, inline.id, ISSUER), { client_id: inline.id })
  t.equal(withId.statusCode, 200)
  const access = withId.json().access_token as string
  const introspect = await postForm(app, '/introspect', { token: access, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(es256, inline.id, `${ISSUER}/introspect`) })
  t.equal(introspect.statusCode, 200, introspect.body)
  t.equal(introspect.json().active, true)
  const revoke = await postForm(app, '/revoke', { token: access, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(eddsa, inline.id, ISSUER) })
  t.equal(revoke.statusCode, 200, revoke.body)
})

t.test('refusals are invalid_client 401 and audited as failed client authentication', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const other = await createClient(app)
  const cases: Array<[string, string | Promise<string>, RegExp, Record<string, string>?]> = [
    ['expired', assertion(es256, inline.id, ISSUER, { iat: now - 600, exp: now - 120 }), /expired/],
    ['lives too long', assertion(es256, inline.id, ISSUER, { exp: now + 3600 }), /expire within 300 seconds/],
    ['no exp', assertion(es256, inline.id, ISSUER, { exp: undefined }), /exp/],
    ['no jti', assertion(es256, inline.id, ISSUER, { jti: undefined }), /jti/],
    ['iat in the future', assertion(es256, inline.id, ISSUER, { iat: now + 600, exp: now + 120 }), /iat/],
    ['nbf in the future', assertion(es256, inline.id, ISSUER, { nbf: now + 600 }), /nbf/],
    ['wrong aud', assertion(es256, inline.id, 'https://evil.example'), /aud/],
    ['iss is not the client', assertion(es256, inline.id, ISSUER, { iss: 'someone-else' }), /iss/],
    ['alg none', unsecured({ iss: inline.id, sub: inline.id, aud: ISSUER, jti: 'x', exp: now + 60 }), /algorithm is not allowed|invalid/],
    ['HMAC with the public key as secret', hmacSigned({ iss: inline.id, sub: inline.id, aud: ISSUER, jti: 'y', exp: now + 60 }, JSON.stringify(es256.publicJwk)), /algorithm is not allowed/],
    ['a key the client did not register', clientKey('ES256', es256.kid).then((k) => assertion(k, inline.id, ISSUER)), /signature/],
    ['an unknown kid', clientKey('ES256').then((k) => assertion(k, inline.id, ISSUER)), /no registered key/],
    ['wrong assertion type', assertion(es256, inline.id, ISSUER), /client_assertion_type/, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }],
    ['client_id differs from sub', assertion(es256, inline.id, ISSUER), /client_id does not match/, { client_id: other.client.id }],
    ['a secret client sending an assertion', assertion(es256, other.client.id, ISSUER), /client authentication failed/],
  ]
  for (const [name, jwt, description, extra] of cases) {
    await refused(t, await token(app, await jwt, extra), description, name)
  }
  const events = await app.auditStore.list({ limit: 100, type: 'client_authentication_failed' })
  const mine = events.filter((e) => e.clientId === inline.id && (e.detail as { method?: string }).method === 'private_key_jwt')
  t.ok(mine.length >= 10, `failures audited with method private_key_jwt (${mine.length})`)
  t.match(mine[0].detail, { endpoint: '/token', reason: String })

  // Neither can a private_key_jwt client fall back to a secret or to nothing.
  const none = await postForm(app, '/token', { grant_type: 'client_credentials', client_id: inline.id })
  t.equal(none.statusCode, 401)
  const basic = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: 'Basic ' + Buffer.from(`${inline.id}:guess`).toString('base64') })
  t.equal(basic.statusCode, 401)
  // Mixing an assertion with Basic is two methods (RFC 6749 §2.3).
  const mixed = await postForm(app, '/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(es256, inline.id, ISSUER) }, { authorization: other.basic })
  t.equal(mixed.statusCode, 400)
})

t.test('a jti is single-use, also across two instances on one database', async (t) => {
  const jwt = await assertion(es256, inline.id, ISSUER)
  t.equal((await token(app, jwt)).statusCode, 200)
  await refused(t, await token(app, jwt), /used before/, 'replay to the same instance')
  const second = await build(t, { databaseUrl: url, config, clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })
  const fresh = await assertion(es256, inline.id, ISSUER)
  t.equal((await token(second, fresh)).statusCode, 200, 'first use at the second instance')
  await refused(t, await token(app, fresh), /used before/, 'replay to the first instance')
  // Two concurrent uses of one assertion: exactly one wins.
  const raced = await assertion(es256, inline.id, ISSUER)
  const results = await Promise.all([token(app, raced), token(second, raced)])
  t.same(results.map((r) => r.statusCode).sort(), [200, 401])
})

t.test('jwks_uri: fetched, cached, refetched once on an unknown kid, with a cooldown', async (t) => {
  const first = await clientKey('ES256')
  const rotated = await clientKey('ES256')
  let served = jwksOf(first)
  server.routes.set('/rotating.json', (req, res) => json(served)(req, res))
  const client = await keyClient(app, { jwksUri: keysUrl('/rotating.json') })
  const hits = () => server.hits.get('/rotating.json') ?? 0

  t.equal((await token(app, await assertion(first, client.id, ISSUER))).statusCode, 200)
  t.equal((await token(app, await assertion(first, client.id, ISSUER))).statusCode, 200)
  t.equal(hits(), 1, 'cached')

  served = jwksOf(rotated)
  // Within the cooldown an unknown kid does not cause a fetch: nobody can make Stamp fetch in a loop.
  await refused(t, await token(app, await assertion(rotated, client.id, ISSUER)), /no registered key/, 'within the cooldown')
  t.equal(hits(), 1)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await token(app, await assertion(rotated, client.id, ISSUER))).statusCode, 200, 'the rotated key after one refetch')
  t.equal(hits(), 2)
  const stranger = await clientKey('ES256')
  await refused(t, await token(app, await assertion(stranger, client.id, ISSUER)), /no registered key/, 'made-up kid right after')
  t.equal(hits(), 2, 'no second refetch')
})

t.test('jwks_uri that is slow, oversized, private or unreachable: refused quickly', async (t) => {
  const key = await clientKey('ES256')
  server.routes.set('/slow.json', () => { /* never answers */ })
  server.routes.set('/big.json', json({ keys: [{ ...key.publicJwk, padding: 'x'.repeat(8000) }] }))
  server.routes.set('/private.json', json({ keys: [{ ...key.publicJwk, d: 'secret' }] }))
  server.routes.set('/oct.json', json({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: key.kid }] }))
  const cases: Array<[string, RegExp]> = [
    [keysUrl('/slow.json'), /did not answer in time/],
    [keysUrl('/big.json'), /larger than 4096 bytes/],
    [keysUrl('/private.json'), /private key material/],
    [keysUrl('/oct.json'), /private key material/],
    [keysUrl('/missing.json'), /HTTP 404/],
    ['https://unknown.client.test/jwks.json', /could not be resolved/],
  ]
  for (const [uri, description] of cases) {
    const client = await keyClient(app, { jwksUri: uri })
    const started = Date.now()
    await refused(t, await token(app, await assertion(key, client.id, ISSUER)), description, uri)
    t.ok(Date.now() - started < 2000, 'answered within the fetch timeout')
  }
})

t.test('registration keeps private keys out (admin API)', async (t) => {
  const { createAdmin } = await import('../../helper.js')
  const admin = await createAdmin(app)
  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/admin/clients', headers: { authorization: admin.authorization }, payload: { name: 'signer', grant_types: ['client_credentials'], scopes: ['read'], ...body } })
  const created = await post({ token_endpoint_auth_method: 'private_key_jwt', jwks: jwksOf(es256) })
  t.equal(created.statusCode, 201, created.body)
  t.notOk(created.json().client_secret, 'no secret for a private_key_jwt client')
  t.equal(created.json().token_endpoint_auth_method, 'private_key_jwt')
  t.same(created.json().jwks.keys[0].x, es256.publicJwk.x)
  const id = created.json().client_id as string
  t.equal((await token(app, await assertion(es256, id, ISSUER))).statusCode, 200)

  const withPrivate = await post({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...es256.publicJwk, d: 'AAAA' }] } })
  t.equal(withPrivate.statusCode, 400)
  t.match(withPrivate.json().error_description, /private key material/)
  t.equal((await post({ token_endpoint_auth_method: 'private_key_jwt' })).statusCode, 400, 'keys are required')
  t.equal((await post({ token_endpoint_auth_method: 'private_key_jwt', jwks: jwksOf(es256), jwks_uri: keysUrl('/x.json') })).statusCode, 400, 'not both')
  t.equal((await post({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks' })).statusCode, 400, 'https only')

  // Moving the client to jwks_uri drops the inline set.
  server.routes.set('/moved.json', json(jwksOf(eddsa)))
  const moved = await app.inject({ method: 'PATCH', url: `/admin/clients/${id}`, headers: { authorization: admin.authorization }, payload: { jwks_uri: keysUrl('/moved.json') } })
  t.equal(moved.statusCode, 200, moved.body)
  t.equal(moved.json().jwks, null)
  t.equal((await token(app, await assertion(eddsa, id, ISSUER))).statusCode, 200)
  await refused(t, await token(app, await assertion(es256, id, ISSUER)), /no registered key|signature/, 'the old inline key')
})

t.test('discovery advertises private_key_jwt and its algorithms for every endpoint', async (t) => {
  const doc = (await app.inject('/.well-known/oauth-authorization-server')).json()
  for (const endpoint of ['token', 'revocation', 'introspection']) {
    t.ok(doc[`${endpoint}_endpoint_auth_methods_supported`].includes('private_key_jwt'), endpoint)
    t.same(doc[`${endpoint}_endpoint_auth_signing_alg_values_supported`], ['RS256', 'PS256', 'ES256', 'EdDSA'])
  }
})
