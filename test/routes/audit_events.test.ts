/**
 * Security-relevant actions reach the audit trail: code reuse, logout, consent granted, denied
 * and revoked, failed client authentication, rejected admin tokens, and the scope values of user
 * and client updates. A failed audit write is logged and counted, never silent.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import { build, createAdmin, createClient, createUser, postForm } from '../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields, pkce } from '../fixtures/browser.js'

const CB = 'https://partner.example/cb'

async function events (app: FastifyInstance, type: string) {
  return app.auditStore.list({ limit: 50, type })
}

async function signedInWithConsent (app: FastifyInstance, decision: 'allow' | 'deny') {
  const client = await createClient(app, { name: 'Partner', grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid', 'email'] })
  const user = await createUser(app)
  const browser = new Browser(app)
  const { verifier, challenge } = pkce()
  const login = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid email', code_challenge: challenge, code_challenge_method: 'S256' }))
  const consent = await browser.signIn(login.res, user.username, user.password)
  const done = await browser.follow(`${ISSUER}/consent`, { ...hiddenFields(consent.res.body), decision })
  return { client, user, browser, verifier, location: done.location! }
}

t.test('consent granted and denied, code reuse, logout', async (t) => {
  const app = await build(t)
  const granted = await signedInWithConsent(app, 'allow')
  const [grant] = await events(app, 'consent_granted')
  t.match(grant, { actor: granted.user.user.id, subject: granted.user.user.id, clientId: granted.client.client.id, detail: { scopes: ['openid', 'email'] } })

  const denied = await signedInWithConsent(app, 'deny')
  t.equal(denied.location.searchParams.get('error'), 'access_denied')
  const [deny] = await events(app, 'consent_denied')
  t.match(deny, { actor: denied.user.user.id, clientId: denied.client.client.id, detail: { scopes: ['openid', 'email'] } })

  const code = granted.location.searchParams.get('code')!
  const form = { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: granted.verifier }
  const auth = { authorization: granted.client.basic }
  t.equal((await postForm(app, '/token', form, auth)).statusCode, 200)
  t.equal((await postForm(app, '/token', form, auth)).statusCode, 400)
  const [reuse] = await events(app, 'authorization_code_reuse')
  t.ok(reuse, 'code reuse is audited')
  t.equal(reuse.clientId, granted.client.client.id)
  t.notMatch(JSON.stringify(reuse), code, 'the code itself is not in the trail')

  const confirm = await granted.browser.get(`${ISSUER}/logout`)
  await granted.browser.post(`${ISSUER}/logout`, hiddenFields(confirm.body))
  const [logout] = await events(app, 'logout')
  t.match(logout, { actor: granted.user.user.id, subject: granted.user.user.id, detail: { sid: String } })
})

t.test('failed client authentication and rejected admin tokens', async (t) => {
  const app = await build(t)
  const { client, secret } = await createClient(app)
  const wrong = 'Basic ' + Buffer.from(`${client.id}:wrong-secret`).toString('base64')
  t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: wrong })).statusCode, 401)
  t.equal((await postForm(app, '/revoke', { token: 'x', client_id: client.id, client_secret: 'also-wrong' })).statusCode, 401)
  const failures = await events(app, 'client_authentication_failed')
  t.equal(failures.length, 2)
  t.match(failures.find((e) => e.detail?.method === 'client_secret_basic'), { clientId: client.id, ip: String, detail: { endpoint: '/token' } })
  t.match(failures.find((e) => e.detail?.method === 'client_secret_post'), { clientId: client.id, detail: { endpoint: '/revoke' } })
  t.notMatch(JSON.stringify(failures), /wrong-secret|also-wrong/, 'no presented secret in the trail')
  t.notMatch(JSON.stringify(failures), secret!)

  const bad = await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: 'Bearer not.a.jwt' } })
  t.equal(bad.statusCode, 401)
  const admin = await createAdmin(app)
  // A token for Stamp itself (aud = issuer) without stamp:admin: a console client allowed another scope.
  const console = await createClient(app, { name: 'console', firstParty: true, grantTypes: ['client_credentials'], scopes: ['stamp:admin', 'read'], audiences: [] })
  const { access_token: plain } = (await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: console.basic })).json()
  t.equal((await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: `Bearer ${plain}` } })).statusCode, 403)
  t.equal((await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: admin.authorization } })).statusCode, 200)
  const rejected = await events(app, 'admin_token_rejected')
  t.equal(rejected.length, 2, 'each rejected token, not the accepted one')
  t.match(rejected.find((e) => e.detail?.error === 'invalid_token'), { ip: String })
  t.match(rejected.find((e) => e.detail?.error === 'insufficient_scope'), { actor: String })
})

t.test('user and client updates record scopes before and after', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const { user } = await createUser(app, 'scoped', 'correct horse battery staple', ['read'])
  const patched = await app.inject({ method: 'PATCH', url: `/admin/users/${user.id}`, headers: { authorization: admin.authorization }, payload: { scopes: ['read', 'write'] } })
  t.equal(patched.statusCode, 200)
  const [userEvent] = await events(app, 'user_updated')
  t.same(userEvent.detail?.scopes, { before: ['read'], after: ['read', 'write'] })

  const { client } = await createClient(app, { scopes: ['read', 'write'] })
  const clientPatch = await app.inject({ method: 'PATCH', url: `/admin/clients/${client.id}`, headers: { authorization: admin.authorization }, payload: { scopes: ['read'] } })
  t.equal(clientPatch.statusCode, 200)
  const [clientEvent] = await events(app, 'client_updated')
  t.same(clientEvent.detail?.scopes, { before: ['read', 'write'], after: ['read'] })

  await app.inject({ method: 'PATCH', url: `/admin/clients/${client.id}`, headers: { authorization: admin.authorization }, payload: { name: 'Renamed' } })
  const [renamed] = await events(app, 'client_updated')
  t.notOk(renamed.detail?.scopes, 'no scope entry when the scopes did not change')
})

t.test('a failed audit write is logged and counted', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); done() } })
  const app = await build(t, { loggerInstance: pino({ level: 'info' }, sink) })
  const { client } = await createClient(app)
  const failures = async () => (await app.metrics.registry.getSingleMetric('stamp_audit_write_failures_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ?? -1
  t.equal(await failures(), 0)
  // A real fault: the table is gone while the app runs.
  await app.prisma.$executeRawUnsafe('ALTER TABLE audit_events RENAME TO audit_events_away')
  t.teardown(() => app.prisma.$executeRawUnsafe('ALTER TABLE IF EXISTS audit_events_away RENAME TO audit_events'))
  const wrong = 'Basic ' + Buffer.from(`${client.id}:wrong`).toString('base64')
  t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: wrong })).statusCode, 401, 'the request is still answered')
  t.equal(await failures(), 1, 'stamp_audit_write_failures_total counts it')
  const logged = lines.find((l) => l.msg === 'could not store audit event')
  t.ok(logged, 'logged')
  t.equal(logged?.level, 50, 'at error level')
  t.match(logged, { audit: { type: 'client_authentication_failed' } })
  await app.prisma.$executeRawUnsafe('ALTER TABLE audit_events_away RENAME TO audit_events')
})
