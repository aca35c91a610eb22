/**
 * `stamp-verifier/http` (`bearerAuth`) on a plain `node:http` server, with real Stamp tokens:
 * `authorize` for handlers, `middleware` in a Connect-style chain (what Express calls), and the
 * RFC 6750 answers. No framework on the verifier's side.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { bearerAuth, type AuthenticatedRequest, type Middleware } from '../../packages/verifier/src/http.js'
import { startStamp } from '../fixtures/stamp_server.js'

const ORDERS = 'https://orders.example'

async function listen (handler: (req: IncomingMessage, res: ServerResponse) => void, t: Test): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

/** A Connect/Express-style chain: each middleware calls next() or answers. */
function chain (...steps: Array<Middleware | ((req: IncomingMessage, res: ServerResponse) => void)>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let i = 0
    const next = (err?: unknown): void => {
      if (err) { res.writeHead(500).end('next(err)'); return }
      const step = steps[i++]
      if (step) step(req, res, next)
    }
    next()
  }
}

t.test('bearerAuth on node:http with real Stamp tokens', async (t) => {
  const stamp = await startStamp(t)
  const caller = await stamp.client({ scopes: ['orders:read', 'orders:write'], audiences: [ORDERS] })
  const token = await stamp.accessToken(caller, { resource: ORDERS, scope: 'orders:read' })
  const auth = bearerAuth({ issuer: stamp.issuer, audience: ORDERS, realm: 'orders' })

  t.test('authorize: claims for a good token, RFC 6750 refusals otherwise', async (t) => {
    const base = await listen(async (req, res) => {
      const claims = await auth.authorize(req, res, req.url === '/write' ? ['orders:write'] : [])
      if (!claims) return
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub }))
    }, t)
    const ok = await fetch(`${base}/read`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(ok.status, 200)
    t.same(await ok.json(), { sub: caller.client.id })

    const scope = await fetch(`${base}/write`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(scope.status, 403)
    t.equal(scope.headers.get('www-authenticate'), 'Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks the required scope: orders:write", scope="orders:write"')
    t.equal(scope.headers.get('cache-control'), 'no-store')
    t.same(await scope.json(), { error: 'insufficient_scope', error_description: 'the access token lacks the required scope: orders:write' })

    const missing = await fetch(`${base}/read`)
    t.equal(missing.status, 401)
    t.equal(missing.headers.get('www-authenticate'), 'Bearer realm="orders"')

    const malformed = await fetch(`${base}/read`, { headers: { authorization: 'Bearer a b' } })
    t.equal(malformed.status, 400)
    t.match(malformed.headers.get('www-authenticate'), /error="invalid_request"/)

    const forged = await fetch(`${base}/read`, { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } })
    t.equal(forged.status, 401)
    t.match(forged.headers.get('www-authenticate'), /error="invalid_token"/)
  })

  t.test('middleware: sets req.auth and calls next, or answers and stops the chain', async (t) => {
    let reached = 0
    const base = await listen(chain(auth.middleware('orders:read'), (req: IncomingMessage, res: ServerResponse) => {
      reached++
      res.writeHead(200).end((req as AuthenticatedRequest).auth!.client_id)
    }), t)
    const ok = await fetch(base, { headers: { authorization: `Bearer ${token}` } })
    t.equal(ok.status, 200)
    t.equal(await ok.text(), caller.client.id)
    const refused = await fetch(base)
    t.equal(refused.status, 401)
    t.equal(reached, 1, 'the handler after the middleware ran only for the good token')
    t.throws(() => auth.middleware('two words'), TypeError)
  })

  t.test('keys unavailable: 503 without a challenge (the token may be fine)', async (t) => {
    const offline = bearerAuth({ issuer: stamp.issuer, audience: ORDERS, jwksUri: 'http://127.0.0.1:9/jwks', timeout: 200 })
    const base = await listen(async (req, res) => { if (await offline.authorize(req, res)) res.end('ok') }, t)
    const res = await fetch(base, { headers: { authorization: `Bearer ${token}` } })
    t.equal(res.status, 503)
    t.equal(res.headers.get('www-authenticate'), null)
    t.equal((await res.json() as { error: string }).error, 'temporarily_unavailable')
  })
})
