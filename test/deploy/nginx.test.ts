import t from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { createTestDatabase } from '../helper.js'
import { basic, h2Client, seed, startNginx, startStamp, stampEnv } from '../fixtures/deploy.js'

// nginx (deploy/nginx/templates/stamp.conf.template) terminating TLS with HTTP/2 in front of two
// real Stamp processes on one PostgreSQL database. ISSUER is unset and TRUST_PROXY names the
// proxy's address, so every URL Stamp emits must come from nginx's X-Forwarded-Proto/Host.
// The last subtest stops instance a (one setup for all: starting processes is the slow part).
t.test('two instances behind nginx', async (t) => {
  const env = stampEnv(await createTestDatabase(t), { TRUST_PROXY: '127.0.0.1', SHUTDOWN_TIMEOUT: '10' })
  const clients = await seed(env)
  const [a, b] = await Promise.all([
    startStamp(t, { ...env, INSTANCE_NAME: 'a' }, ['--workers', '1']),
    startStamp(t, { ...env, INSTANCE_NAME: 'b' }, ['--workers', '1']),
  ])
  const nginx = await startNginx(t, [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`])
  const client = h2Client(t, nginx.origin, nginx.ca)
  const issuer = nginx.origin // https://localhost:<port>

  t.test('discovery shows the public https issuer, gzipped', async (t) => {
    const res = await client.get('/.well-known/openid-configuration', { 'accept-encoding': 'gzip' })
    t.equal(res.status, 200)
    t.equal(res.headers['content-encoding'], 'gzip')
    const doc = res.json()
    t.equal(doc.issuer, issuer)
    for (const key of ['token_endpoint', 'jwks_uri', 'revocation_endpoint', 'introspection_endpoint']) {
      t.ok(String(doc[key]).startsWith(issuer + '/'), `${key} is on the public origin`)
    }
    t.match(res.headers['strict-transport-security'], /max-age=/)
  })

  t.test('a full token flow works through the proxy', async (t) => {
    const jwksRes = await client.get('/jwks', { 'accept-encoding': 'gzip' })
    t.equal(jwksRes.status, 200)
    t.equal(jwksRes.headers['content-encoding'], 'gzip')
    const jwks = createLocalJWKSet(jwksRes.json())
    const verify = (token: string) => jwtVerify(token, jwks, { issuer, typ: 'at+jwt', algorithms: ['RS256'] })

    const fp = basic(clients.firstParty.id, clients.firstParty.secret)
    const login = await client.post('/token', { grant_type: 'password', username: clients.user.username, password: clients.user.password, scope: 'openid' }, { authorization: fp })
    t.equal(login.status, 200, 'password grant')
    const pair = login.json()
    t.ok(pair.refresh_token)
    t.equal((await verify(pair.access_token)).payload.iss, issuer)

    const refreshed = await client.post('/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token }, { authorization: fp })
    t.equal(refreshed.status, 200, 'refresh grant')
    t.not(refreshed.json().refresh_token, pair.refresh_token, 'the refresh token rotated')
    await verify(refreshed.json().access_token)

    const cc = basic(clients.confidential.id, clients.confidential.secret)
    const service = await client.post('/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: cc })
    t.equal(service.status, 200, 'client_credentials grant')
    const { payload } = await verify(service.json().access_token)
    t.equal(payload.sub, clients.confidential.id)

    const introspected = await client.post('/introspect', { token: service.json().access_token }, { authorization: cc })
    t.has(introspected.json(), { active: true, iss: issuer })
  })

  t.test('both instances serve', async (t) => {
    const seen = new Set<string>()
    for (let i = 0; i < 20 && seen.size < 2; i++) seen.add(String((await client.get('/jwks')).headers['x-stamp-instance']))
    t.same([...seen].sort(), ['a', 'b'])
    t.match(nginx.accessLog(), new RegExp(`upstream=127\\.0\\.0\\.1:${a.port}`))
    t.match(nginx.accessLog(), new RegExp(`upstream=127\\.0\\.0\\.1:${b.port}`))
  })

  t.test('the proxy only passes its own host name, and keeps probes internal', async (t) => {
    const other = await client.get('/.well-known/openid-configuration', { ':authority': 'evil.example' } as Record<string, string>).catch((err: Error) => err)
    t.ok(other instanceof Error || other.status !== 200, 'another host is not served')
    t.equal((await client.get('/healthz')).status, 200, 'probes answer from the proxy host (127.0.0.1 is allowed)')
  })

  // A rolling restart under load: SIGTERM one instance while token requests (client_credentials,
  // and password grants whose argon2 keeps requests in flight) keep coming. The stopping
  // instance drains what it has, nginx sends the rest to the other one: no client sees a failure.
  t.test('SIGTERM to one instance under load fails no request', async (t) => {
    const cc = basic(clients.confidential.id, clients.confidential.secret)
    const fp = basic(clients.firstParty.id, clients.firstParty.secret)

    const LOAD_MS = 6000
    const SIGTERM_AT_MS = 2000
    const CONCURRENCY = 12
    const counts = { ok: 0, failed: 0, before: { a: 0, b: 0 }, after: { a: 0, b: 0 } }
    const failures: string[] = []
    let signalled = false
    const started = Date.now()

    const worker = async (n: number) => {
      while (Date.now() - started < LOAD_MS) {
        const password = n % 4 === 0
        try {
          const res = password
            ? await client.post('/token', { grant_type: 'password', username: clients.user.username, password: clients.user.password }, { authorization: fp })
            : await client.post('/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: cc })
          if (res.status === 200) counts.ok++
          else { counts.failed++; failures.push(`${res.status} ${res.body.slice(0, 120)}`) }
          const instance = String(res.headers['x-stamp-instance']) as 'a' | 'b'
          if (instance === 'a' || instance === 'b') (signalled ? counts.after : counts.before)[instance]++
        } catch (err) {
          counts.failed++
          failures.push(String(err))
        }
      }
    }
    const load = Promise.all(Array.from({ length: CONCURRENCY }, (_, n) => worker(n)))
    await new Promise((resolve) => setTimeout(resolve, SIGTERM_AT_MS))
    const signalledAt = Date.now()
    signalled = true
    a.child.kill('SIGTERM')
    const exit = await a.exited
    const drainMs = Date.now() - signalledAt
    await load

    t.comment(`shutdown under load: ${counts.ok} ok, ${counts.failed} failed; before SIGTERM a=${counts.before.a} b=${counts.before.b}, after a=${counts.after.a} b=${counts.after.b}; instance a exited ${exit.code ?? exit.signal} after ${drainMs} ms`)
    t.equal(counts.failed, 0, `no failed request${failures.length ? ': ' + failures.slice(0, 5).join(' | ') : ''}`)
    t.ok(counts.before.a > 0 && counts.before.b > 0, 'both instances served before the signal')
    t.ok(counts.after.b > 0, 'the remaining instance took the load')
    t.equal(exit.code, 0, 'the stopped instance exited cleanly')
    t.ok(drainMs < 10_000, 'within SHUTDOWN_TIMEOUT')
    t.ok(a.lines.some((l) => l.msg === 'shutdown complete'), 'it drained and closed its pool')
    t.ok(counts.ok > 50, 'the load was real')
  })
})
