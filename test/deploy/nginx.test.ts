import t from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { createTestDatabase } from '../helper.js'
import { basic, h2Client, seed, startNginx, startStamp, stampEnv } from '../fixtures/deploy.js'

// nginx (deploy/nginx/templates/stamp.conf.template) terminating TLS with HTTP/2 in front of two
// real Stamp processes on one PostgreSQL database. ISSUER is unset and TRUST_PROXY names the
// proxy's address, so every URL Stamp emits must come from nginx's X-Forwarded-Proto/Host.
t.test('two instances behind nginx', async (t) => {
  const env = stampEnv(await createTestDatabase(t), { TRUST_PROXY: '127.0.0.1' })
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
})
