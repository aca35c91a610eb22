/**
 * The `stamp-verifier/fastify` plugin and the orders-service example, against the real Stamp on loopback:
 * RFC 6750 401/400/403 answers with their `WWW-Authenticate` challenges, scopes per route, and
 * two services with different audiences.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import stampAuth, { bearerToken } from '../../packages/verifier/src/fastify.js'
import { createVerifier } from '../../packages/verifier/src/index.js'
import { startStamp } from '../fixtures/stamp_server.js'

const ORDERS = 'https://orders.example'
const BILLING = 'https://billing.example'
const exampleApp = fileURLToPath(new URL('../../examples/orders-service/app.js', import.meta.url))

async function ordersService (t: Test, issuer: string, audience = ORDERS): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(stampAuth, { issuer, audience, realm: 'orders' })
  app.get('/orders', { preHandler: app.requireScope('orders:read') }, async (request) => ({ sub: request.auth!.sub }))
  app.post('/orders', { preHandler: app.requireScope('orders:write') }, async (request, reply) => reply.code(201).send({ by: request.auth!.client_id }))
  app.get('/me', { preHandler: app.authenticate }, async (request) => request.auth)
  app.get('/public', async (request) => ({ auth: request.auth }))
  t.teardown(() => app.close())
  return app
}

t.test('bearerToken follows RFC 6750 §2.1', async (t) => {
  t.equal(bearerToken('Bearer abc.def-_~+/=='), 'abc.def-_~+/==')
  t.equal(bearerToken('bearer   abc'), 'abc', 'scheme case-insensitive, 1*SP')
  t.throws(() => bearerToken(undefined), { code: 'ERR_STAMP_TOKEN_MISSING' })
  t.throws(() => bearerToken('Basic dXNlcjpwYXNz'), { code: 'ERR_STAMP_TOKEN_MISSING' }, 'another scheme is no bearer credential')
  t.throws(() => bearerToken('Bearer'), { code: 'ERR_STAMP_REQUEST_INVALID' })
  t.throws(() => bearerToken('Bearer a b'), { code: 'ERR_STAMP_REQUEST_INVALID' })
  t.throws(() => bearerToken('Bearer a"b'), { code: 'ERR_STAMP_REQUEST_INVALID' })
  t.throws(() => bearerToken('BearerX abc'), { code: 'ERR_STAMP_TOKEN_MISSING' })
})

t.test('the plugin with a real Stamp', async (t) => {
  const stamp = await startStamp(t)
  const reader = await stamp.client({ scopes: ['orders:read'], audiences: [ORDERS] })
  const writer = await stamp.client({ scopes: ['orders:read', 'orders:write'], audiences: [ORDERS, BILLING] })
  const app = await ordersService(t, stamp.issuer)
  const readToken = await stamp.accessToken(reader, { scope: 'orders:read' })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  t.test('no token: 401 with a bare challenge (RFC 6750 §3.1)', async (t) => {
    const res = await app.inject('/orders')
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="orders"')
    t.equal(res.headers['cache-control'], 'no-store')
    t.same(res.json(), { error: 'invalid_token', error_description: 'a bearer access token is required' })
    const basic = await app.inject({ url: '/orders', headers: { authorization: 'Basic dXNlcjpwYXNz' } })
    t.equal(basic.statusCode, 401)
    t.equal(basic.headers['www-authenticate'], 'Bearer realm="orders"')
  })

  t.test('malformed header: 400 invalid_request', async (t) => {
    const res = await app.inject({ url: '/orders', headers: { authorization: 'Bearer two tokens' } })
    t.equal(res.statusCode, 400)
    t.match(res.headers['www-authenticate'], /^Bearer realm="orders", error="invalid_request", error_description="/)
    t.equal(res.json().error, 'invalid_request')
  })

  t.test('invalid token: 401 invalid_token with a description', async (t) => {
    const res = await app.inject({ url: '/orders', headers: bearer(readToken.slice(0, -4) + 'AAAA') })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="orders", error="invalid_token", error_description="the access token signature is invalid"')
    t.same(res.json(), { error: 'invalid_token', error_description: 'the access token signature is invalid' })
    const garbage = await app.inject({ url: '/me', headers: bearer('abc') })
    t.equal(garbage.statusCode, 401)
    t.match(garbage.headers['www-authenticate'], /error="invalid_token"/)
  })

  t.test('scopes per route: 200 with orders:read, 403 insufficient_scope for orders:write', async (t) => {
    const ok = await app.inject({ url: '/orders', headers: bearer(readToken) })
    t.equal(ok.statusCode, 200)
    t.same(ok.json(), { sub: reader.client.id })
    const denied = await app.inject({ method: 'POST', url: '/orders', headers: bearer(readToken) })
    t.equal(denied.statusCode, 403)
    t.equal(denied.headers['www-authenticate'],
      'Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks the required scope: orders:write", scope="orders:write"')
    t.same(denied.json(), { error: 'insufficient_scope', error_description: 'the access token lacks the required scope: orders:write' })
    const writeToken = await stamp.accessToken(writer, { scope: 'orders:read orders:write', resource: ORDERS })
    const created = await app.inject({ method: 'POST', url: '/orders', headers: bearer(writeToken) })
    t.equal(created.statusCode, 201)
    t.same(created.json(), { by: writer.client.id })
  })

  t.test('authenticate alone sets request.auth; unguarded routes see null', async (t) => {
    const me = await app.inject({ url: '/me', headers: bearer(readToken) })
    t.equal(me.statusCode, 200)
    t.equal(me.json().client_id, reader.client.id)
    t.equal(me.json().scope, 'orders:read')
    const open = await app.inject({ url: '/public', headers: bearer(readToken) })
    t.same(open.json(), { auth: null })
  })

  t.test('two services with different audiences: a token for A is refused by B', async (t) => {
    const billing = await ordersService(t, stamp.issuer, BILLING)
    const forOrders = await stamp.accessToken(writer, { scope: 'orders:read', resource: ORDERS })
    const forBilling = await stamp.accessToken(writer, { scope: 'orders:read', resource: BILLING })
    t.equal((await app.inject({ url: '/orders', headers: bearer(forOrders) })).statusCode, 200)
    t.equal((await billing.inject({ url: '/orders', headers: bearer(forBilling) })).statusCode, 200)
    const refused = await billing.inject({ url: '/orders', headers: bearer(forOrders) })
    t.equal(refused.statusCode, 401)
    t.equal(refused.headers['www-authenticate'], 'Bearer realm="orders", error="invalid_token", error_description="the access token is not intended for this resource"')
    t.equal((await app.inject({ url: '/orders', headers: bearer(forBilling) })).statusCode, 401)
  })

  t.test('the orders-service example, twice, with different audiences', async (t) => {
    const { buildOrdersService } = await import(pathToFileURL(exampleApp).href)
    const a: FastifyInstance = await buildOrdersService({ issuer: stamp.issuer, audience: ORDERS })
    const b: FastifyInstance = await buildOrdersService({ issuer: stamp.issuer, audience: BILLING })
    t.teardown(() => Promise.all([a.close(), b.close()]))
    const writeToken = await stamp.accessToken(writer, { scope: 'orders:read orders:write', resource: ORDERS })
    const placed = await a.inject({ method: 'POST', url: '/orders', headers: bearer(writeToken), payload: { item: 'tea' } })
    t.equal(placed.statusCode, 201)
    t.match(placed.json(), { id: 1, item: 'tea', owner: writer.client.id })
    const list = await a.inject({ url: '/orders', headers: bearer(readToken) })
    t.same(list.json(), { orders: [] }, "the reader sees only its own orders")
    t.same((await a.inject({ url: '/orders', headers: bearer(writeToken) })).json().orders.length, 1)
    t.equal((await a.inject({ method: 'POST', url: '/orders', headers: bearer(readToken), payload: { item: 'x' } })).statusCode, 403)
    t.equal((await b.inject({ url: '/orders', headers: bearer(writeToken) })).statusCode, 401, 'service B refuses a token for service A')
    t.equal((await a.inject('/orders')).statusCode, 401)
  })

  t.test('a shared verifier can be passed in; JWKS unavailable answers 503', async (t) => {
    const verifier = createVerifier({ issuer: stamp.issuer, audience: ORDERS })
    const shared = Fastify()
    await shared.register(stampAuth, { verifier })
    shared.get('/x', { preHandler: shared.authenticate }, async () => 'ok')
    t.teardown(() => shared.close())
    t.equal((await shared.inject({ url: '/x', headers: bearer(readToken) })).statusCode, 200)
    t.equal(shared.stampVerifier, verifier)

    const offline = Fastify()
    await offline.register(stampAuth, { issuer: 'http://127.0.0.1:9', audience: ORDERS, timeout: 500 })
    offline.get('/x', { preHandler: offline.authenticate }, async () => 'ok')
    t.teardown(() => offline.close())
    const res = await offline.inject({ url: '/x', headers: bearer(readToken) })
    t.equal(res.statusCode, 503)
    t.notOk(res.headers['www-authenticate'], 'no challenge: the token is not at fault')
    t.same(res.json(), { error: 'temporarily_unavailable', error_description: 'the token signing keys are temporarily unavailable' })
  })

  t.test('requireScope refuses to be misconfigured', async (t) => {
    t.throws(() => app.requireScope(), TypeError)
    t.throws(() => app.requireScope('a b'), TypeError)
  })
})

t.test('requireAuthentication: RFC 9470 step-up per route, with real Stamp tokens', async (t) => {
  const stamp = await startStamp(t)
  const caller = await stamp.client({ scopes: ['orders:read'], audiences: [ORDERS] })
  // client_credentials: no user, so no acr and no auth_time.
  const token = await stamp.accessToken(caller, { resource: ORDERS, scope: 'orders:read' })
  const app = Fastify()
  await app.register(stampAuth, { issuer: stamp.issuer, audience: ORDERS, realm: 'orders' })
  t.throws(() => app.requireAuthentication({ maxAge: 1.5 }), TypeError)
  app.get('/transfer', { preHandler: app.requireAuthentication({ acrValues: ['urn:stamp:acr:mfa'], scopes: ['orders:read'] }) }, async () => ({ ok: true }))
  app.get('/recent', { preHandler: app.requireAuthentication({ maxAge: 60 }) }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  const transfer = await app.inject({ url: '/transfer', headers: { authorization: `Bearer ${token}` } })
  t.equal(transfer.statusCode, 401)
  t.equal(transfer.headers['www-authenticate'], 'Bearer realm="orders", error="insufficient_user_authentication", error_description="a stronger authentication is required", acr_values="urn:stamp:acr:mfa"')
  t.equal(transfer.json().error, 'insufficient_user_authentication')
  const recent = await app.inject({ url: '/recent', headers: { authorization: `Bearer ${token}` } })
  t.equal(recent.statusCode, 401)
  t.match(recent.headers['www-authenticate'], /max_age="60"/)
  t.equal((await app.inject({ url: '/recent' })).statusCode, 401, 'no token: the plain challenge')
})
