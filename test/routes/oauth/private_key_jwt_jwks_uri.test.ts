/**
 * private_key_jwt with a remote `jwks_uri`, end to end over real sockets: Stamp listening on
 * 127.0.0.1, the client registered through the admin API over HTTP, its JWKS served over HTTPS by
 * a loopback server with a certificate made in this test (its CA injected into Stamp's fetcher,
 * the DNS lookup injected too: nothing leaves loopback), and the tokens requested with
 * openid-client's `PrivateKeyJwt` (RFC 7523 §2.2) and with crafted assertions.
 *
 * Counted fetches: the first token fetches the set once (concurrent first requests share that
 * fetch), later tokens use the cache, a new `kid` after a key rotation triggers exactly one
 * refetch (concurrent requests included) once the cooldown has passed and none before it, and
 * an oversize or slow document is refused with 401 invalid_client, quickly, and not refetched
 * within the cooldown.
 *
 * @module
 */
import t from 'tap'
import * as oidc from 'openid-client'
import { build, createAdmin, createTestDatabase, testConfig } from '../../helper.js'
import { fakeDNS, json, selfSignedCertificate, startDocumentServer } from '../../fixtures/document_server.js'
import { freePort } from '../../fixtures/stamp_server.js'
import { assertion, clientKey, jwksOf } from '../../fixtures/client_keys.js'
import { JWT_BEARER_ASSERTION } from '../../../src/domain/client_assertion.js'

const HOST = 'keys.rp.test'
const tls = selfSignedCertificate([HOST])
const keyServer = await startDocumentServer({ tls })
t.teardown(() => keyServer.close())
const dns = fakeDNS({ [HOST]: ['127.0.0.1'] })
const keysUrl = (path: string) => `https://${HOST}:${keyServer.port}${path}`
const hits = (path: string) => keyServer.hits.get(path) ?? 0

// Long enough that the checks right after a fetch run inside it on a loaded machine.
const COOLDOWN_SECONDS = 2
const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const url = await createTestDatabase(t)
const config = testConfig(url, { ISSUER: issuer, CLIENT_METADATA_ALLOW_LOOPBACK: 'true', CLIENT_JWKS_REFETCH_COOLDOWN: String(COOLDOWN_SECONDS) })
config.policy = { ...config.policy, clientKeys: { ...config.policy.clientKeys, jwksTimeoutMs: 500, jwksMaxBytes: 4096 } }
const app = await build(t, { databaseUrl: url, config, clientMetadataFetch: { lookup: dns.lookup, ca: keyServer.ca } })
await app.listen({ port, host: '127.0.0.1' })
const admin = await createAdmin(app)
const insecure = { execute: [oidc.allowInsecureRequests] }

/** Registers a private_key_jwt client with `jwksUri` through the admin API, over HTTP. */
async function register (jwksUri: string): Promise<string> {
  const res = await fetch(`${issuer}/admin/clients`, {
    method: 'POST',
    headers: { authorization: admin.authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'remote-keys', grant_types: ['client_credentials'], scopes: ['read'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri }),
  })
  const body = await res.json() as { client_id: string, jwks_uri: string }
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(body)}`)
  return body.client_id
}

/** A client_credentials request over HTTP with a crafted assertion. */
async function token (clientAssertion: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: clientAssertion }),
  })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('fetched once, cached, one refetch for a new kid after the cooldown', async (t) => {
  const first = await clientKey('ES256')
  const rotated = await clientKey('ES256')
  let served = jwksOf(first)
  keyServer.routes.set('/rotating.json', (req, res) => json(served, { 'cache-control': 'max-age=300' })(req, res))
  const clientId = await register(keysUrl('/rotating.json'))
  t.equal(hits('/rotating.json'), 0, 'registration does not fetch')

  // openid-client signs the assertion (aud = the issuer) and sends it; Stamp fetches the set once.
  const config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.PrivateKeyJwt({ key: first.privateKey, kid: first.kid }), insecure)
  const granted = await oidc.clientCredentialsGrant(config, { scope: 'read' })
  t.ok(granted.access_token, 'a token for the assertion')
  t.equal(hits('/rotating.json'), 1, 'first token: one fetch')

  for (let i = 0; i < 3; i++) t.ok((await oidc.clientCredentialsGrant(config, { scope: 'read' })).access_token)
  const concurrent = await Promise.all(Array.from({ length: 4 }, async () => token(await assertion(first, clientId, issuer))))
  t.same(concurrent.map((r) => r.status), [200, 200, 200, 200])
  t.equal(hits('/rotating.json'), 1, 'later tokens, concurrent ones too: from the cache')

  // The client rotates: its document now holds only a key with a new kid.
  served = jwksOf(rotated)
  const early = await token(await assertion(rotated, clientId, issuer))
  t.equal(early.status, 401, 'new kid within the cooldown: refused')
  t.match(early.body, { error: 'invalid_client', error_description: /no registered key/ })
  t.equal(hits('/rotating.json'), 1, 'no fetch within the cooldown')

  await sleep(COOLDOWN_SECONDS * 1000 + 150)
  const after = await Promise.all(Array.from({ length: 4 }, async () => token(await assertion(rotated, clientId, issuer))))
  t.same(after.map((r) => r.status), [200, 200, 200, 200], 'the rotated key, after the cooldown')
  t.equal(hits('/rotating.json'), 2, 'exactly one refetch for the new kid, with 4 requests at once')

  const old = await token(await assertion(first, clientId, issuer))
  t.equal(old.status, 401, 'the retired key is refused')
  const stranger = await token(await assertion(await clientKey('ES256'), clientId, issuer))
  t.equal(stranger.status, 401, 'a made-up kid is refused')
  t.equal(hits('/rotating.json'), 2, 'neither refetches: the set was just fetched (cooldown)')
  const rotatedConfig = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.PrivateKeyJwt({ key: rotated.privateKey, kid: rotated.kid }), insecure)
  t.ok((await oidc.clientCredentialsGrant(rotatedConfig, { scope: 'read' })).access_token, 'openid-client with the rotated key')
})

t.test('an oversize or slow document: 401 invalid_client, quickly, not refetched within the cooldown', async (t) => {
  const key = await clientKey('ES256')
  keyServer.routes.set('/big.json', json({ keys: [{ ...key.publicJwk, kid: key.kid, padding: 'x'.repeat(8000) }] }))
  keyServer.routes.set('/slow.json', () => { /* never answers: the fetch times out */ })
  const cases: Array<[string, RegExp]> = [['/big.json', /larger than 4096 bytes/], ['/slow.json', /did not answer in time/]]
  for (const [path, description] of cases) {
    const clientId = await register(keysUrl(path))
    const started = Date.now()
    const res = await token(await assertion(key, clientId, issuer))
    t.equal(res.status, 401, `${path}: refused`)
    t.match(res.body, { error: 'invalid_client', error_description: description }, `${path}: ${String(res.body.error_description)}`)
    t.ok(Date.now() - started < 2000, `${path}: answered within the fetch timeout (${Date.now() - started} ms)`)
    t.equal(hits(path), 1, `${path}: fetched once`)
    t.equal((await token(await assertion(key, clientId, issuer))).status, 401, `${path}: still refused`)
    t.equal(hits(path), 1, `${path}: the failure is remembered for the cooldown, no second fetch`)
  }
})

t.test('no traffic off loopback: only the injected name was resolved, only the loopback server asked', async (t) => {
  t.ok(dns.calls.length >= 1)
  t.same([...new Set(dns.calls)], [HOST], 'every resolution was for the fake name (mapped to 127.0.0.1)')
  t.same([...new Set(keyServer.hosts)], [`${HOST}:${keyServer.port}`], 'every JWKS request reached the loopback server under that name (TLS verified for it)')
})
