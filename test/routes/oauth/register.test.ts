import t from 'tap'
import { createHash } from 'node:crypto'
import { build, createTestDatabase, createUser, postForm, testConfig } from '../../helper.js'
import { Browser, authorizeURL, hiddenFields, pkce } from '../../fixtures/browser.js'
import { createRegistrationToken } from '../../../src/domain/registration_tokens.js'
import type { FastifyInstance } from 'fastify'

const sha256 = (v: string) => createHash('sha256').update(v).digest('hex')
const CB = 'http://127.0.0.1:49152/callback'

function register (app: FastifyInstance, body: unknown, token?: string) {
  return app.inject({
    method: 'POST', url: '/register',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    payload: JSON.stringify(body),
  })
}
const mcpClient = { client_name: 'Claude-ish', redirect_uris: [CB], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }

t.test('closed by default: an initial access token opens it, its uses counted atomically', async (t) => {
  const app = await build(t)
  const meta = (await app.inject('/.well-known/oauth-authorization-server')).json()
  t.equal(meta.registration_endpoint, 'http://stamp.test/register')

  const none = await register(app, mcpClient)
  t.equal(none.statusCode, 401)
  t.equal(none.json().error, 'invalid_token')
  t.match(none.headers['www-authenticate'], /^Bearer/)
  t.equal(none.headers['cache-control'], 'no-store')
  t.equal((await register(app, mcpClient, 'not-a-token')).statusCode, 401)

  const { token } = await createRegistrationToken(app.registrationTokens, { maxUses: 2 })
  const row = await app.prisma.registrationToken.findFirst()
  t.equal(row?.tokenHash, sha256(token), 'stored hashed')
  const results = await Promise.all([1, 2, 3, 4].map(() => register(app, mcpClient, token)))
  t.same(results.map((r) => r.statusCode).sort(), [201, 201, 401, 401], 'exactly max-uses registrations succeed')
  t.equal((await app.prisma.registrationToken.findFirst())?.uses, 2)
  const events = await app.auditStore.list({ limit: 20 })
  t.ok(events.some((e) => e.type === 'registration_refused'))

  const expired = await createRegistrationToken(app.registrationTokens, { expiresInSeconds: 1, now: new Date(Date.now() - 5000) })
  t.equal((await register(app, mcpClient, expired.token)).statusCode, 401, 'expired token refused')
})

t.test('REGISTRATION=off removes the endpoint', async (t) => {
  const app = await build(t, { env: { REGISTRATION: 'off' } })
  t.notOk((await app.inject('/.well-known/openid-configuration')).json().registration_endpoint)
  t.equal((await register(app, mcpClient)).statusCode, 404)
})

t.test('REGISTRATION=open: policy, RFC 7591 errors, the code flow, RFC 7592 management', async (t) => {
  const url = await createTestDatabase(t)
  const base = testConfig(url, { REGISTRATION: 'open', REGISTRATION_SCOPES: 'openid offline_access mcp:read', REGISTRATION_AUDIENCES: 'https://mcp.example/mcp' })
  const app = await build(t, { databaseUrl: url, config: { ...base, policy: { ...base.policy, registration: { ...base.policy.registration, rateLimit: 1000 } } } })

  t.test('policy refusals carry RFC 7591 §3.2.2 codes', async (t) => {
    const cases: Array<[unknown, string]> = [
      [{ ...mcpClient, redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri'],
      [{ ...mcpClient, redirect_uris: ['https://app.example/cb#frag'] }, 'invalid_redirect_uri'],
      [{ ...mcpClient, redirect_uris: [] }, 'invalid_redirect_uri'],
      [{ ...mcpClient, redirect_uris: 'https://app.example/cb' }, 'invalid_redirect_uri'],
      [{ ...mcpClient, grant_types: ['password'] }, 'invalid_client_metadata'],
      [{ ...mcpClient, grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
      [{ ...mcpClient, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
      [{ ...mcpClient, scope: 'openid stamp:admin' }, 'invalid_client_metadata'],
      [{ ...mcpClient, response_types: ['token'] }, 'invalid_client_metadata'],
      [{ ...mcpClient, logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
      [[mcpClient], 'invalid_client_metadata'],
    ]
    for (const [body, error] of cases) {
      const res = await register(app, body)
      t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 80))
      t.equal(res.json().error, error)
      t.ok(res.json().error_description)
    }
    const form = await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'client_name=x' })
    t.equal(form.json().error, 'invalid_client_metadata', 'form-encoded body refused')
  })

  const res = await register(app, { ...mcpClient, scope: 'openid offline_access mcp:read mcp:write', client_uri: 'https://agent.example' })
  t.equal(res.statusCode, 201, res.body)
  const info = res.json()
  t.equal(res.headers['cache-control'], 'no-store')
  t.ok(info.client_id)
  t.notOk(info.client_secret, 'a public client has no secret')
  t.equal(info.token_endpoint_auth_method, 'none')
  t.equal(info.scope, 'openid offline_access mcp:read', 'narrowed to the policy\'s scopes')
  t.equal(info.client_uri, 'https://agent.example')
  t.equal(info.registration_client_uri, `http://stamp.test/register/${info.client_id}`)
  t.ok(info.registration_access_token)
  const row = await app.clientStore.find(info.client_id)
  t.equal(row?.origin, 'dcr')
  t.equal(row?.firstParty, false)
  t.equal(row?.registrationTokenHash, sha256(info.registration_access_token), 'registration access token stored hashed')
  t.same(row?.audiences, ['https://mcp.example/mcp'])

  t.test('confidential registration returns a secret once', async (t) => {
    const conf = await register(app, { ...mcpClient, token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['https://agent.example/cb'] })
    t.equal(conf.statusCode, 201)
    t.ok(conf.json().client_secret)
    t.equal(conf.json().client_secret_expires_at, 0)
    t.equal((await app.clientStore.find(conf.json().client_id))?.secretHash, sha256(conf.json().client_secret))
  })

  t.test('the registered client signs a user in: consent shows where it returns (loopback redirect)', async (t) => {
    const user = await createUser(app, 'rita')
    const browser = new Browser(app)
    const { verifier, challenge } = pkce()
    const start = await browser.follow(authorizeURL({ client_id: info.client_id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256', resource: 'https://mcp.example/mcp' }))
    const consent = await browser.signIn(start.res, 'rita', user.password)
    t.match(consent.res.body, /Returns you to <strong>127\.0\.0\.1:49152<\/strong>/)
    const done = await browser.follow('http://stamp.test/consent', { ...hiddenFields(consent.res.body), decision: 'allow' })
    const code = done.location!.searchParams.get('code')!
    const token = await postForm(app, '/token', { grant_type: 'authorization_code', client_id: info.client_id, code, code_verifier: verifier, redirect_uri: CB, resource: 'https://mcp.example/mcp' })
    t.equal(token.statusCode, 200, token.body)
    const claims = JSON.parse(Buffer.from(token.json().access_token.split('.')[1], 'base64url').toString())
    t.same(claims.aud, 'https://mcp.example/mcp')
  })

  const auth = { authorization: `Bearer ${info.registration_access_token}` }
  const config = `/register/${info.client_id}`

  t.test('RFC 7592 read: only with the client\'s own registration access token', async (t) => {
    const read = await app.inject({ url: config, headers: auth })
    t.equal(read.statusCode, 200)
    t.equal(read.json().client_id, info.client_id)
    t.notOk(read.json().registration_access_token)
    t.equal((await app.inject({ url: config })).statusCode, 401)
    t.equal((await app.inject({ url: config, headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
    const other = (await register(app, mcpClient)).json()
    t.equal((await app.inject({ url: config, headers: { authorization: `Bearer ${other.registration_access_token}` } })).statusCode, 401, 'another client\'s token')
    t.equal((await app.inject({ url: '/register/nope', headers: auth })).statusCode, 401, 'unknown client: 401 as well')
  })

  t.test('RFC 7592 update replaces the metadata, under the same policy', async (t) => {
    const put = (body: unknown) => app.inject({ method: 'PUT', url: config, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(body) })
    const NEW_CB = 'https://agent.example/new-callback'
    const ok = await put({ ...mcpClient, client_id: info.client_id, client_name: 'Renamed', redirect_uris: [NEW_CB] })
    t.equal(ok.statusCode, 200, ok.body)
    t.same(ok.json().redirect_uris, [NEW_CB])
    t.equal((await app.clientCache.find(info.client_id))?.name, 'Renamed')
    t.equal((await put({ ...mcpClient, client_id: info.client_id, redirect_uris: ['http://evil.example/cb'] })).json().error, 'invalid_redirect_uri')
    t.equal((await put({ ...mcpClient, client_id: info.client_id, registration_access_token: 'x' })).json().error, 'invalid_request')
    t.equal((await put({ ...mcpClient, client_id: 'someone-else' })).json().error, 'invalid_request')
  })

  t.test('RFC 7592 delete: the client and its tokens are gone', async (t) => {
    const del = await app.inject({ method: 'DELETE', url: config, headers: auth })
    t.equal(del.statusCode, 204)
    t.equal(await app.clientStore.find(info.client_id), null)
    t.equal(await app.prisma.refreshToken.count({ where: { clientId: info.client_id, revokedAt: null } }), 0)
    t.equal((await app.inject({ url: config, headers: auth })).statusCode, 401)
  })
})

t.test('registration is rate-limited per IP', async (t) => {
  const url = await createTestDatabase(t)
  const base = testConfig(url, { REGISTRATION: 'open' })
  const app = await build(t, { databaseUrl: url, config: { ...base, policy: { ...base.policy, registration: { ...base.policy.registration, rateLimit: 3 } } } })
  const codes = []
  for (let i = 0; i < 5; i++) codes.push((await register(app, mcpClient)).statusCode)
  t.same(codes, [201, 201, 201, 429, 429])
  const limited = await register(app, mcpClient)
  t.ok(limited.headers['retry-after'])
})
