/**
 * The identity-provider admin API: create (OIDC and plain OAuth 2, secret and private key), list,
 * get by id or name, update, delete; validation errors as RFC 6749 JSON; the credential sealed at
 * rest and never in a response or the audit trail; an audit event per change.
 */
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { build, createAdmin } from '../helper.js'

const app = await build(t)
const admin = await createAdmin(app)
const SECRET = 'upstream-secret-' + 'x'.repeat(20)
const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  app.inject({ method, url, headers: { authorization: admin.authorization }, ...(payload ? { payload } : {}) })

t.test('create, read, update and delete; the secret never leaves', async (t) => {
  const created = await call('POST', '/admin/identity-providers', {
    slug: 'corp', display_name: 'Corp SSO', issuer: 'https://login.corp.example', client_id: 'stamp-rp', client_secret: SECRET, jit: true, domains: ['Corp.Example', '@corp.example'],
  })
  t.equal(created.statusCode, 201, created.body)
  t.notOk(created.body.includes(SECRET), 'no secret in the response')
  const body = created.json()
  t.match(body, { slug: 'corp', kind: 'oidc', scope: 'openid email profile', auth_method: 'client_secret_basic', credential_set: true, jit: true, domains: ['corp.example'], redirect_uri: 'http://stamp.test/federation/callback' })
  t.equal(created.headers['cache-control'], 'no-store')

  const row = await app.prisma.identityProvider.findUnique({ where: { id: body.id } })
  t.ok(row!.credentialEnc!.startsWith('v1.'), 'sealed at rest')
  t.notOk(row!.credentialEnc!.includes(SECRET))
  t.equal(app.identityProviders.credential((await app.identityProviders.find('corp'))!), SECRET, 'opens with the KEK')

  t.equal((await call('GET', '/admin/identity-providers/corp')).json().id, body.id, 'by name')
  t.equal((await call('GET', `/admin/identity-providers/${body.id}`)).json().slug, 'corp', 'by id')
  const list = await call('GET', '/admin/identity-providers')
  t.equal(list.json().items.length, 1)
  t.notOk(list.body.includes(SECRET))

  const dup = await call('POST', '/admin/identity-providers', { slug: 'corp', issuer: 'https://x.example', client_id: 'a', client_secret: 's' })
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().error, 'invalid_request')

  const updated = await call('PATCH', '/admin/identity-providers/corp', { enabled: false, client_secret: 'a rotated secret' })
  t.equal(updated.statusCode, 200)
  t.equal(updated.json().enabled, false)
  t.equal(app.identityProviders.credential((await app.identityProviders.find('corp'))!), 'a rotated secret')

  const events = await app.auditStore.list({ limit: 50, subject: body.id })
  t.strictSame(events.map((e) => e.type).sort(), ['identity_provider_created', 'identity_provider_updated'])
  const updateEvent = events.find((e) => e.type === 'identity_provider_updated')!
  t.match(updateEvent.detail, { fields: ['enabled', 'credential'] })
  t.equal(updateEvent.actor, admin.user.id)
  t.notOk(JSON.stringify(events).includes('rotated secret'), 'no secret in the audit trail')

  const deleted = await call('DELETE', '/admin/identity-providers/corp')
  t.equal(deleted.statusCode, 200)
  t.match(deleted.json(), { slug: 'corp', links_removed: 0 })
  t.equal((await call('GET', '/admin/identity-providers/corp')).statusCode, 404)
  t.equal((await app.auditStore.list({ limit: 5, subject: body.id, type: "identity_provider_deleted" })).length, 1)
})

t.test('plain OAuth 2 with a claim mapping; private_key_jwt shows only the public key', async (t) => {
  const gh = await call('POST', '/admin/identity-providers', {
    slug: 'github', kind: 'oauth2', display_name: 'GitHub', client_id: 'gh', client_secret: SECRET,
    authorization_endpoint: 'https://github.com/login/oauth/authorize', token_endpoint: 'https://github.com/login/oauth/access_token',
    userinfo_endpoint: 'https://api.github.com/user', scope: 'read:user user:email', claim_mapping: { sub: 'id', username: 'login' },
  })
  t.equal(gh.statusCode, 201, gh.body)
  t.match(gh.json(), { kind: 'oauth2', issuer: null, claim_mapping: { sub: 'id', username: 'login' } })

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  // JSON bodies carry no control characters (input hygiene): a JWK here, PEM files through the CLI.
  const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }))
  const pk = await call('POST', '/admin/identity-providers', { slug: 'entra', issuer: 'https://login.microsoftonline.com/tenant/v2.0', client_id: 'app', private_key: jwk })
  t.equal(pk.statusCode, 201, pk.body)
  t.equal(pk.json().auth_method, 'private_key_jwt')
  t.match(pk.json().public_jwk, { kty: 'EC', crv: 'P-256', alg: 'ES256' })
  t.notOk('d' in pk.json().public_jwk, 'no private member')
  t.notOk(pk.body.includes(JSON.parse(jwk).d), 'the private scalar is nowhere')
})

t.test('bad input is invalid_request with a reason', async (t) => {
  const cases: Array<[object, RegExp]> = [
    [{ slug: 'x', client_id: 'a', client_secret: 's' }, /authorization endpoint is required/],
    [{ slug: 'y', issuer: 'http://idp.example', client_id: 'a', client_secret: 's' }, /https/],
    [{ slug: 'z', issuer: 'https://idp.example', client_id: 'a', scope: 'email', client_secret: 's' }, /openid/],
    [{ slug: 'w', issuer: 'https://idp.example', client_id: 'a', auth_method: 'client_secret_basic' }, /needs a client secret/],
    [{ slug: 'v', issuer: 'https://idp.example', client_id: 'a', private_key: 'not a key' }, /could not be read/],
    [{ slug: 'u', issuer: 'https://idp.example', client_id: 'a', domains: ['not a domain'] }, /not a domain/],
  ]
  for (const [payload, reason] of cases) {
    const res = await call('POST', '/admin/identity-providers', payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json().error, 'invalid_request')
    t.match(res.json().error_description, reason)
  }
  const unknown = await call('POST', '/admin/identity-providers', { slug: 'q', issuer: 'https://idp.example', client_id: 'a', secret: 'x' })
  t.equal(unknown.statusCode, 400, 'unknown properties are refused')
  t.equal((await app.inject({ method: 'GET', url: '/admin/identity-providers' })).statusCode, 401)
})
