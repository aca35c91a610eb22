import t from 'tap'
import { build, createClient, createTestDatabase, postForm } from '../helper.js'
import { loadConfig, parseTrustProxy } from '../../src/config/env.js'
import { decodeJwt } from 'jose'
import { pino } from 'pino'
import { proxyIssuerWarning } from '../../src/http/public_issuer.js'

/** The app with the test defaults, but without ISSUER. */
async function buildWithoutIssuer (t: Parameters<typeof build>[0], env: Record<string, string>) {
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', KEY_ENCRYPTION_KEY: 'a'.repeat(43), ...env })
  return build(t, { databaseUrl, config })
}

const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com', 'x-forwarded-for': '203.0.113.7' }

t.test('ISSUER set: forwarded headers never change an emitted URL', async (t) => {
  const app = await build(t, { env: { TRUST_PROXY: 'true', ISSUER: 'https://id.example.org' } })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: forwarded })).json()
  t.equal(doc.issuer, 'https://id.example.org')
  t.equal(doc.token_endpoint, 'https://id.example.org/token')
})

t.test('no ISSUER, trusted proxy: the issuer is the forwarded https origin, in discovery and in tokens', async (t) => {
  const app = await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1' })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: forwarded, remoteAddress: '127.0.0.1' })).json()
  t.equal(doc.issuer, 'https://auth.example.com')
  t.equal(doc.jwks_uri, 'https://auth.example.com/jwks')
  const { basic } = await createClient(app, { audiences: [] })
  const res = await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: basic, ...forwarded })
  t.equal(decodeJwt(res.json().access_token).iss, 'https://auth.example.com')
  t.equal(decodeJwt(res.json().access_token).aud, 'https://auth.example.com')
})

t.test('no ISSUER, untrusted peer: forwarded headers (and Host) are ignored', async (t) => {
  const app = await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1', PORT: '4000' })
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: { ...forwarded, host: 'evil.example' }, remoteAddress: '198.51.100.9' })).json()
  t.equal(doc.issuer, 'http://localhost:4000')
})

t.test('TRUST_PROXY off: forwarded headers are ignored', async (t) => {
  const app = await buildWithoutIssuer(t, {})
  const doc = (await app.inject({ url: '/.well-known/openid-configuration', headers: forwarded, remoteAddress: '127.0.0.1' })).json()
  t.match(doc.issuer, /^http:\/\/localhost:/)
})

t.test('TRUST_PROXY parsing', async (t) => {
  t.equal(parseTrustProxy('false'), false)
  t.equal(parseTrustProxy('true'), true)
  t.equal(parseTrustProxy('2'), 2)
  t.same(parseTrustProxy('127.0.0.1, 10.0.0.0/8,uniquelocal,::1'), ['127.0.0.1', '10.0.0.0/8', 'uniquelocal', '::1'])
  t.throws(() => parseTrustProxy('10.0.0.0/33'), /TRUST_PROXY/)
  t.throws(() => parseTrustProxy('proxy.internal'), /TRUST_PROXY/)
  t.equal(loadConfig({ TRUST_PROXY: '127.0.0.1' }).issuerFromProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: '127.0.0.1', ISSUER: 'https://a.example' }).issuerFromProxy, false)
  t.equal(loadConfig({}).shutdownTimeout, 10)
  t.throws(() => loadConfig({ SHUTDOWN_TIMEOUT: '0' }), /SHUTDOWN_TIMEOUT/)
})

t.test('a proxy-derived issuer warns at start-up that SSO needs ISSUER', async (t) => {
  t.equal(proxyIssuerWarning(loadConfig({ TRUST_PROXY: '127.0.0.1', ISSUER: 'https://a.example' })), null, 'ISSUER set: no warning')
  t.equal(proxyIssuerWarning(loadConfig({})), null, 'no proxy: no warning')
  t.match(proxyIssuerWarning(loadConfig({ TRUST_PROXY: '127.0.0.1', PORT: '4000' })), /Set ISSUER.*authorization_code/)

  const lines: Array<{ level: number, event?: string, msg: string }> = []
  const loggerInstance = pino({ level: 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, KEY_ENCRYPTION_KEY: 'a'.repeat(43), TRUST_PROXY: '127.0.0.1' })
  await build(t, { databaseUrl, config, loggerInstance })
  const warning = lines.find((l) => l.event === 'issuer_from_proxy')
  t.ok(warning, 'logged once at start-up')
  t.equal(warning?.level, 40, 'at warn')
  t.match(warning?.msg, /single sign-on/)

  const quiet: typeof lines = []
  const withIssuer = loadConfig({ DATABASE_URL: databaseUrl, KEY_ENCRYPTION_KEY: 'a'.repeat(43), TRUST_PROXY: '127.0.0.1', ISSUER: 'https://id.example.org' })
  await build(t, { databaseUrl, config: withIssuer, loggerInstance: pino({ level: 'warn' }, { write: (line: string) => { quiet.push(JSON.parse(line)) } }) })
  t.notOk(quiet.some((l) => l.event === 'issuer_from_proxy'), 'not with ISSUER set')
})
