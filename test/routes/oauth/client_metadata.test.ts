import t, { type Test } from 'tap'
import { build, createTestDatabase, createUser, postForm, testConfig } from '../../helper.js'
import { Browser, authorizeURL, hiddenFields, pkce } from '../../fixtures/browser.js'
import { fakeDNS, json, selfSignedCertificate, startDocumentServer } from '../../fixtures/document_server.js'
import { cacheSeconds, parseClientIdURL } from '../../../src/domain/client_metadata.js'
import { defaults } from '../../../src/config/defaults.js'

const HOST = 'mcp-client.test'
const tls = selfSignedCertificate([HOST, 'private.test', 'linklocal.test'])
const server = await startDocumentServer({ tls })
t.teardown(() => server.close())
const dns = fakeDNS({ [HOST]: ['127.0.0.1'], 'private.test': ['10.0.0.7'], 'linklocal.test': ['169.254.169.254'] })
const CB = 'http://127.0.0.1:33418/callback'
const clientId = (path: string, host = HOST) => `https://${host}:${server.port}${path}`
const documentFor = (id: string, extra: Record<string, unknown> = {}) => ({
  client_id: id, client_name: 'Agent Smith', redirect_uris: [CB], grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid offline_access', ...extra,
})
function serve (path: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const id = clientId(path)
  server.routes.set(path, json(documentFor(id, extra), headers))
  return id
}

const url = await createTestDatabase(t)
const base = testConfig(url, { CLIENT_METADATA_ALLOW_LOOPBACK: 'true' })
const config = { ...base, policy: { ...base.policy, clientMetadata: { ...base.policy.clientMetadata, timeoutMs: 400 } } }
const app = await build(t, { databaseUrl: url, config, clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })
const alice = await createUser(app, 'alice')
const browser = new Browser(app)
{
  const page = await browser.follow(authorizeURL({ client_id: serve('/signin.json'), redirect_uri: CB, response_type: 'code', code_challenge: pkce().challenge, code_challenge_method: 'S256' }))
  await browser.signIn(page.res, 'alice', alice.password)
}

function authorize (id: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce()
  return browser.follow(authorizeURL({ client_id: id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256', state: 's1', ...extra })).then((r) => ({ ...r, verifier }))
}

/** The error page's text for an authorization request that must not be redirected. */
async function pageError (t: Test, id: string, pattern: RegExp, extra: Record<string, string> = {}) {
  const { res, location } = await authorize(id, extra)
  t.notOk(location, 'not redirected anywhere')
  t.equal(res.statusCode, 400)
  t.match(res.body, pattern)
}

t.test('discovery advertises client ID metadata documents', async (t) => {
  const res = await app.inject('/.well-known/oauth-authorization-server')
  t.equal(res.json().client_id_metadata_document_supported, true)
})

t.test('end to end: document fetched, consent names the client and its host, code exchanged with client_id alone', async (t) => {
  const id = serve('/agent.json')
  const first = await authorize(id)
  t.notOk(first.location, 'consent is asked (never first-party)')
  t.equal(first.res.statusCode, 200)
  t.match(first.res.body, /Agent Smith/)
  t.match(first.res.body, new RegExp(`Published by <strong>${HOST}:${server.port}</strong>`), 'host shown prominently')
  const decided = await browser.follow('http://stamp.test/consent', { ...hiddenFields(first.res.body), decision: 'allow' })
  const code = decided.location?.searchParams.get('code')
  t.ok(code, 'code issued')
  t.equal(decided.location!.origin + decided.location!.pathname, CB)
  const token = await postForm(app, '/token', { grant_type: 'authorization_code', client_id: id, code: code!, code_verifier: first.verifier, redirect_uri: CB })
  t.equal(token.statusCode, 200, token.body)
  t.ok(token.json().refresh_token)
  const refreshed = await postForm(app, '/token', { grant_type: 'refresh_token', client_id: id, refresh_token: token.json().refresh_token })
  t.equal(refreshed.statusCode, 200, 'refresh works for the public client')

  const row = await app.clientStore.find(id)
  t.equal(row?.origin, 'cimd')
  t.equal(row?.public, true)
  t.equal(row?.firstParty, false)
  t.same(row?.redirectUris, [CB])
  await app.clientUsage.drain()
  const events = await app.auditStore.list({ limit: 50 })
  t.ok(events.some((e) => e.type === 'client_registered' && e.subject === id), 'registration audited')
  t.equal(events.filter((e) => e.type === 'client_first_use' && e.subject === id).length, 1, 'first use audited once')
  t.ok((await app.clientStore.find(id))?.lastUsedAt, 'last use recorded')

  const again = await authorize(id)
  t.notOk(again.location, 'consent is asked again: a remembered decision does not skip it')
  const silent = await authorize(id, { prompt: 'none' })
  t.equal(silent.location?.searchParams.get('error'), 'consent_required')
})

t.test('the document is cached per Cache-Control, within the floor', async (t) => {
  const id = serve('/cached.json', {}, { 'cache-control': 'max-age=0' })
  await authorize(id)
  await authorize(id)
  app.clientCache.forget(id) // drops the client record; the document cache must still hold (floor)
  server.routes.set('/cached.json', json(documentFor(id)))
  t.equal(server.hits.get('/cached.json'), 1, 'fetched once')
  const policy = defaults.clientMetadata
  t.equal(cacheSeconds('max-age=0', policy), policy.cacheFloor)
  t.equal(cacheSeconds('no-store', policy), policy.cacheFloor)
  t.equal(cacheSeconds('public, max-age=600', policy), 600)
  t.equal(cacheSeconds('max-age=99999999', policy), policy.cacheCeiling)
  t.equal(cacheSeconds(undefined, policy), policy.cacheDefault)
})

t.test('client_id in the document must equal the URL', async (t) => {
  const id = clientId('/mismatch.json')
  server.routes.set('/mismatch.json', json(documentFor(clientId('/other.json'))))
  await pageError(t, id, /does not match its URL/)
  const token = await postForm(app, '/token', { grant_type: 'authorization_code', client_id: id, code: 'x', code_verifier: pkce().verifier })
  t.equal(token.statusCode, 401)
  t.equal(token.json().error, 'invalid_client')
  t.equal(token.headers['cache-control'], 'no-store')
})

t.test('redirect URIs come only from the document', async (t) => {
  const id = serve('/redirects.json')
  await pageError(t, id, /not registered for it/, { redirect_uri: 'https://attacker.example/cb' })
})

t.test('oversize, slow and redirecting documents are refused', async (t) => {
  const big = serve('/big.json', { client_name: 'x'.repeat(6000) })
  await pageError(t, big, /larger than/)
  const slowId = clientId('/slow.json')
  server.routes.set('/slow.json', (_req, res) => { setTimeout(() => { if (!res.destroyed) res.end(JSON.stringify(documentFor(slowId))) }, 1500).unref() })
  await pageError(t, slowId, /did not answer in time/)
  const moved = clientId('/moved.json')
  server.routes.set('/moved.json', (_req, res) => { res.writeHead(301, { location: clientId('/agent.json') }).end() })
  await pageError(t, moved, /redirect/)
})

t.test('non-https client ids are not documents; malformed https ones are refused', async (t) => {
  await pageError(t, `http://${HOST}:${server.port}/agent.json`, /not registered/)
  t.throws(() => parseClientIdURL('https://host.example'), /must have a path/)
  t.throws(() => parseClientIdURL('https://user:pw@host.example/c.json'), /credentials/)
  t.throws(() => parseClientIdURL('https://host.example/a/../c.json'), /normalized|dot segments/)
  t.throws(() => parseClientIdURL('https://host.example/c.json#x'), /fragment/)
  t.equal(parseClientIdURL('https://host.example/c.json').host, 'host.example')
})

t.test('names resolving to private or link-local addresses are never fetched', async (t) => {
  server.hits.clear()
  await pageError(t, clientId('/agent.json', 'private.test'), /private or reserved address/)
  await pageError(t, clientId('/agent.json', 'linklocal.test'), /private or reserved address/)
  t.equal(server.hits.size, 0, 'no request was made')
})

t.test('documents cannot ask for secrets, the password grant or admin scopes', async (t) => {
  await pageError(t, serve('/secret.json', { token_endpoint_auth_method: 'client_secret_basic' }), /token_endpoint_auth_method/)
  await pageError(t, serve('/password.json', { grant_types: ['password'] }), /grant type password/)
  const admin = serve('/admin.json', { scope: 'openid stamp:admin' })
  const { location } = await authorize(admin, { scope: 'openid stamp:admin' })
  t.equal(location?.searchParams.get('error'), 'invalid_scope', 'stamp:admin is never granted')
  const row = await app.clientStore.find(admin)
  t.notOk(row?.scopes.includes('stamp:admin'))
  const pw = await postForm(app, '/token', { grant_type: 'password', client_id: admin, username: 'alice', password: alice.password })
  t.equal(pw.json().error, 'unauthorized_client')
})

t.test('a revoked metadata document client is refused while its document is still served', async (t) => {
  const id = serve('/revoked.json')
  await authorize(id)
  await app.clientStore.update(id, { revokedAt: new Date() })
  app.clientCache.forget(id)
  server.hits.clear()
  await pageError(t, id, /blocked by the server operator/)
  t.equal(server.hits.size, 0, 'a blocked client is refused without fetching its document')
})

t.test('CLIENT_ID_METADATA_DOCUMENTS=false turns it off', async (t) => {
  const off = await build(t, { env: { CLIENT_ID_METADATA_DOCUMENTS: 'false', CLIENT_METADATA_ALLOW_LOOPBACK: 'true' }, clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })
  t.equal((await off.inject('/.well-known/openid-configuration')).json().client_id_metadata_document_supported, false)
  server.hits.clear()
  const res = await off.inject(authorizeURL({ client_id: serve('/agent.json'), redirect_uri: CB, response_type: 'code' }).replace('http://stamp.test', ''))
  t.equal(res.statusCode, 400)
  t.match(res.body, /not registered/)
  t.equal(server.hits.size, 0)
})

t.test('without CLIENT_METADATA_ALLOW_LOOPBACK, loopback documents are refused', async (t) => {
  const strict = await build(t, { clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })
  const res = await strict.inject(authorizeURL({ client_id: serve('/agent.json'), redirect_uri: CB, response_type: 'code' }).replace('http://stamp.test', ''))
  t.equal(res.statusCode, 400)
  t.match(res.body, /loopback address/)
})

t.test('an unchanged document does not rewrite its row', async (t) => {
  const id = serve('/stable.json', { client_uri: 'https://agent.example', logo_uri: 'https://agent.example/logo.png' })
  await app.clientCache.find(id)
  const before = await app.prisma.client.findUnique({ where: { id } })
  app.clientCache.forget(id)
  server.routes.set('/stable.json', json(documentFor(id, { client_uri: 'https://agent.example', logo_uri: 'https://agent.example/logo.png' })))
  await app.clientCache.find(id)
  const after = await app.prisma.client.findUnique({ where: { id } })
  t.equal(after!.updatedAt.getTime(), before!.updatedAt.getTime(), 'no update')
})

t.test('an operator-registered client with an https id is used as registered, without a fetch', async (t) => {
  const id = clientId('/operator.json')
  await app.clientStore.create({
    id, name: 'Operator app', secretHash: null, public: true, firstParty: false, grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [CB], postLogoutRedirectUris: [], backchannelLogoutUri: null, scopes: ['openid'], audiences: [], requirePkce: true,
  })
  server.hits.clear()
  const client = await app.clientCache.find(id)
  t.equal(client?.name, 'Operator app')
  t.equal(client?.origin, 'admin')
  t.equal(server.hits.size, 0, 'no document fetched')
})

t.test('a hostile client_name is escaped on the consent page, and the host is still shown', async (t) => {
  const id = serve('/hostile.json', { client_name: '<img src=x onerror=alert(1)> Google' })
  const { res } = await authorize(id)
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, /<img src=x/)
  t.match(res.body, /&lt;img src=x onerror=alert\(1\)&gt; Google/)
  t.match(res.body, new RegExp(`Published by <strong>${HOST}:${server.port}</strong>`))
})

t.test('a client blocked while the user is on its consent page gets an HTML page, not JSON', async (t) => {
  const id = serve('/midflow.json')
  const { res } = await authorize(id)
  t.equal(res.statusCode, 200)
  const fields = hiddenFields(res.body)
  await app.clientStore.update(id, { revokedAt: new Date() })
  app.clientCache.forget(id)
  const page = await browser.get(`http://stamp.test/consent?request=${fields.request}`)
  t.match(page.headers['content-type'], /text\/html/)
  const post = await browser.post('http://stamp.test/consent', { ...fields, decision: 'allow' })
  t.match(post.headers['content-type'], /text\/html/)
  t.notOk(post.headers.location, 'no code issued')
})

t.test('fetches in flight are capped; identical ones are shared', async (t) => {
  const url2 = await createTestDatabase(t)
  const base2 = testConfig(url2, { CLIENT_METADATA_ALLOW_LOOPBACK: 'true' })
  const capped = await build(t, { databaseUrl: url2, config: { ...base2, policy: { ...base2.policy, clientMetadata: { ...base2.policy.clientMetadata, maxConcurrentFetches: 2 } } }, clientMetadataFetch: { lookup: dns.lookup, ca: server.ca } })
  const slow = (path: string) => {
    const id = clientId(path)
    server.routes.set(path, (_req, res) => { setTimeout(() => { if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(documentFor(id))) }, 200).unref() })
    return id
  }
  const ids = [slow('/c1.json'), slow('/c2.json'), slow('/c3.json'), slow('/c4.json')]
  server.hits.clear()
  const results = await Promise.allSettled([ids[0], ids[0], ids[1], ids[2], ids[3]].map((id) => capped.clientCache.find(id)))
  const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))
  t.equal(refused.length, 2, 'two distinct URLs over the cap are refused')
  t.ok(refused.every((m) => /too many client metadata documents/.test(m)))
  t.equal(server.hits.get('/c1.json'), 1, 'two requests for the same document share one fetch')
  t.ok(await capped.clientCache.find(ids[3]), 'a refused one works once the instance is less busy (not cached as a failure)')
})
