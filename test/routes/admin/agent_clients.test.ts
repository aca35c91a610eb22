import t from 'tap'
import { build, createAdmin, createClient, createTestDatabase, postForm, testConfig } from '../../helper.js'
import { fakeDNS, json, selfSignedCertificate, startDocumentServer } from '../../fixtures/document_server.js'

const tls = selfSignedCertificate(['agent.test'])
const server = await startDocumentServer({ tls })
t.teardown(() => server.close())
const dns = fakeDNS({ 'agent.test': ['127.0.0.1'] })
const CB = 'http://127.0.0.1:8976/cb'
const cimdId = `https://agent.test:${server.port}/client.json`
server.routes.set('/client.json', json({ client_id: cimdId, client_name: 'Doc agent', redirect_uris: [CB], token_endpoint_auth_method: 'none' }))

const url = await createTestDatabase(t)
const app = await build(t, { databaseUrl: url, env: { REGISTRATION: 'open', CLIENT_METADATA_ALLOW_LOOPBACK: 'true' }, clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })
const admin = await createAdmin(app)
const get = (path: string) => app.inject({ url: path, headers: { authorization: admin.authorization } })
const post = (path: string, body: unknown) => app.inject({ method: 'POST', url: path, headers: { authorization: admin.authorization, 'content-type': 'application/json' }, payload: JSON.stringify(body) })

const dcr = (await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ client_name: 'Reg agent', redirect_uris: [CB], token_endpoint_auth_method: 'none' }) })).json()
await app.clientCache.find(cimdId) // first use of the document creates its row
const machine = await createClient(app, { name: 'Machine' })

t.test('list by origin, with last use', async (t) => {
  const byOrigin = async (origin: string) => (await get(`/admin/clients?origin=${origin}`)).json().items.map((c: { client_id: string }) => c.client_id)
  t.same(await byOrigin('cimd'), [cimdId])
  t.same(await byOrigin('dcr'), [dcr.client_id])
  t.ok((await byOrigin('admin')).includes(machine.client.id))
  const all = (await get('/admin/clients?limit=200')).json().items
  t.equal(all.length, 4, 'both registered, the metadata client, the admin console and the machine client')
  const m = all.find((c: { client_id: string }) => c.client_id === machine.client.id)
  t.equal(m.origin, 'admin')
  t.equal(m.last_used_at, null)
  t.equal((await get('/admin/clients?origin=bogus')).statusCode, 400)

  const token = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: machine.basic })
  t.equal(token.statusCode, 200)
  await app.clientUsage.drain()
  const after = (await get('/admin/clients?origin=admin')).json().items.find((c: { client_id: string }) => c.client_id === machine.client.id)
  t.ok(after.last_used_at, 'last use shown')
})

t.test('last use is written at most once per interval, and first use is audited once', async (t) => {
  const c = await createClient(app, { name: 'Busy' })
  const touch = app.clientStore.touchLastUsed
  let writes = 0
  app.clientStore.touchLastUsed = (...args) => { if (args[0] === c.client.id) writes++; return touch(...args) }
  t.teardown(() => { app.clientStore.touchLastUsed = touch })
  await Promise.all(Array.from({ length: 20 }, () => postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: c.basic })))
  await app.clientUsage.drain()
  t.equal(writes, 1, '20 token requests, one write')
  t.equal(await app.clientStore.touchLastUsed(c.client.id, new Date(), 3_600_000), 'skipped', 'another instance\'s write within the hour is skipped by the database')
  const row = await app.prisma.client.findUnique({ where: { id: c.client.id } })
  t.ok(row!.lastUsedAt)
  const firstUses = (await app.auditStore.list({ limit: 200, type: 'client_first_use' })).filter((e) => e.subject === c.client.id)
  t.equal(firstUses.length, 1)
  const later = new Date(Date.now() + 3_700_000)
  t.equal(await app.clientStore.touchLastUsed(c.client.id, later, 3_600_000), 'updated', 'after the interval it is written again')
})

t.test('revoke one: a metadata document client stays refused; a registered client loses its tokens', async (t) => {
  const res = await post('/admin/clients/revoke', { client_id: cimdId })
  t.equal(res.statusCode, 200, res.body)
  t.ok(res.json().revoked_at)
  await t.rejects(app.clientCache.find(cimdId), /blocked by the server operator/)
  const login = await app.inject(`/authorize?client_id=${encodeURIComponent(cimdId)}&response_type=code&redirect_uri=${encodeURIComponent(CB)}`)
  t.equal(login.statusCode, 400)
  t.match(login.body, /blocked/)
  t.equal((await post('/admin/clients/revoke', { client_id: dcr.client_id })).statusCode, 200)
  t.equal(await app.clientCache.find(dcr.client_id), null, 'revoked dcr client unknown to the endpoints')
  const rfc7592 = await app.inject({ url: `/register/${dcr.client_id}`, headers: { authorization: `Bearer ${dcr.registration_access_token}` } })
  t.equal(rfc7592.statusCode, 401, 'its registration access token is dead too')
  t.equal((await post('/admin/clients/revoke', { client_id: 'nope' })).statusCode, 404)
  const events = await app.auditStore.list({ limit: 100, type: 'client_revoked' })
  t.equal(events.length, 2)
})

t.test('purge clients unused for N days: only self-registered ones, tokens and consents with them', async (t) => {
  const old = new Date(Date.now() - 40 * 86_400_000)
  const stale = (await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ redirect_uris: [CB], token_endpoint_auth_method: 'none' }) })).json().client_id
  const fresh = (await app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ redirect_uris: [CB], token_endpoint_auth_method: 'none' }) })).json().client_id
  await app.prisma.client.update({ where: { id: stale }, data: { createdAt: old, lastUsedAt: old } })
  await app.prisma.client.update({ where: { id: machine.client.id }, data: { createdAt: old, lastUsedAt: old } })
  const res = await post('/admin/clients/purge', { unused_days: 30 })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json().purged, [stale])
  t.equal(await app.clientStore.find(stale), null)
  t.ok(await app.clientStore.find(fresh))
  t.ok(await app.clientStore.find(machine.client.id), 'admin clients are never purged')
  t.equal((await post('/admin/clients/purge', { unused_days: 30, origins: ['admin'] })).statusCode, 400)
  t.equal((await app.auditStore.list({ limit: 10, type: 'clients_purged' })).length, 1)
})

t.test('CLIENT_ID_METADATA_DOCUMENTS=false: stored metadata clients are refused too', async (t) => {
  const base = testConfig(url, { CLIENT_ID_METADATA_DOCUMENTS: 'false', KEY_ENCRYPTION_KEY: app.config.keyEncryptionKey! })
  const off = await build(t, { databaseUrl: url, config: base })
  await app.prisma.client.update({ where: { id: cimdId }, data: { revokedAt: null } })
  t.equal(await off.clientCache.find(cimdId), null)
})
