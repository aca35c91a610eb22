/**
 * Behind a trusted proxy without ISSUER (the issuer derived per request from X-Forwarded-Proto/
 * -Host): the admin API accepts the tokens minted for that issuer, discovery says which headers
 * it varies on, and TRUST_PROXY=true (any peer may spoof the headers) is warned about at boot.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createTestDatabase, createUser, postForm } from '../helper.js'
import { loadConfig } from '../../src/config/env.js'

async function buildWithoutIssuer (t: Parameters<typeof build>[0], env: Record<string, string>, loggerInstance?: pino.Logger) {
  const databaseUrl = await createTestDatabase(t)
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', KEY_ENCRYPTION_KEY: 'a'.repeat(43), ...env })
  return build(t, { databaseUrl, config, loggerInstance })
}

const via = (host: string) => ({ 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-for': '203.0.113.7' })

async function adminToken (app: FastifyInstance, headers: Record<string, string>) {
  const { username, password } = await createUser(app, undefined, 'a long admin passphrase 1', ['stamp:admin'])
  const console = await createClient(app, { name: 'admin-console', firstParty: true, grantTypes: ['password'], scopes: ['stamp:admin'], audiences: [] })
  const res = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'stamp:admin' }, { authorization: console.basic, ...headers })
  t.equal(res.statusCode, 200, res.body)
  return res.json().access_token as string
}

t.test('the admin API works behind a proxy when ISSUER is unset', async (t) => {
  const app = await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1' })
  const token = await adminToken(app, via('auth.example.com'))
  const list = await app.inject({ url: '/admin/clients', remoteAddress: '127.0.0.1', headers: { ...via('auth.example.com'), authorization: `Bearer ${token}` } })
  t.equal(list.statusCode, 200, 'a token minted for the forwarded issuer is accepted there')
  const elsewhere = await app.inject({ url: '/admin/clients', remoteAddress: '127.0.0.1', headers: { ...via('other.example.com'), authorization: `Bearer ${token}` } })
  t.equal(elsewhere.statusCode, 401, 'but not under another public name (iss and aud are that issuer)')
  const direct = await app.inject({ url: '/admin/clients', remoteAddress: '127.0.0.1', headers: { authorization: `Bearer ${token}` } })
  t.equal(direct.statusCode, 401, 'nor directly, where the issuer is the default one')
})

t.test('discovery derived from X-Forwarded-Host varies on the forwarded headers and Host', async (t) => {
  const app = await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1' })
  for (const url of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const res = await app.inject({ url, remoteAddress: '127.0.0.1', headers: via('auth.example.com') })
    t.equal(res.json().issuer, 'https://auth.example.com')
    const vary = String(res.headers.vary).toLowerCase().split(/,\s*/)
    for (const header of ['x-forwarded-host', 'x-forwarded-proto', 'host']) t.ok(vary.includes(header), `${url}: Vary names ${header}`)
  }
  const fixed = await build(t)
  t.notOk((await fixed.inject('/.well-known/openid-configuration')).headers.vary, 'with ISSUER set, the document does not vary')
})

t.test('TRUST_PROXY=true is warned about at boot; a list of proxies is not', async (t) => {
  const capture = () => {
    const lines: Array<{ level: number, msg: string }> = []
    const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); done() } })
    return { lines, logger: pino({ level: 'info' }, sink) }
  }
  const open = capture()
  await buildWithoutIssuer(t, { TRUST_PROXY: 'true', ISSUER: 'https://auth.example.com' }, open.logger)
  const warning = open.lines.find((l) => /TRUST_PROXY=true/.test(l.msg))
  t.ok(warning, 'warned')
  t.equal(warning?.level, 40, 'at warn level')
  t.match(warning?.msg, /any peer/)
  const listed = capture()
  await buildWithoutIssuer(t, { TRUST_PROXY: '127.0.0.1' }, listed.logger)
  t.notOk(listed.lines.find((l) => /TRUST_PROXY/.test(l.msg)), 'no warning for a list of proxy addresses')
})
