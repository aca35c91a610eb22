/**
 * Log capture: the app logs at trace level with the production logger options (src/logging.ts)
 * into a buffer while every credential-bearing flow runs, including failures; then no password,
 * client secret, access token or refresh token may appear anywhere in the captured log.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { loggerOptions } from '../../src/logging.js'
import { build, createAdmin, createClient, createUser, postForm } from '../helper.js'

t.test('no password, client secret or token is ever logged', async (t) => {
  const lines: string[] = []
  const capture = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = await build(t, { loggerInstance: pino(loggerOptions('trace'), capture), env: { METRICS_TOKEN: 'metrics-token-'.padEnd(40, 'x') } })
  const secrets: Record<string, string> = {}
  const remember = (name: string, value: string | undefined | null) => { if (value) secrets[name] = value }

  const admin = await createAdmin(app)
  remember('admin password', admin.password)
  remember('admin access token', admin.accessToken)
  remember('admin refresh token', admin.refreshToken)
  remember('admin console secret', admin.console.secret)

  // client_credentials with Basic and with client_secret_post; a wrong secret.
  const cc = await createClient(app)
  remember('cc secret', cc.secret)
  const ccToken = (await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: cc.basic })).json().access_token
  remember('cc access token', ccToken)
  await postForm(app, '/token', { grant_type: 'client_credentials', client_id: cc.client.id, client_secret: cc.secret! })
  await postForm(app, '/token', { grant_type: 'client_credentials', client_id: cc.client.id, client_secret: 'wrong-secret-value-123' })
  remember('wrong client secret', 'wrong-secret-value-123')

  // Password grant: success, wrong password, unknown user, throttled, password in the username field.
  const pw = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  remember('pw client secret', pw.secret)
  const { username, password } = await createUser(app, 'loguser', 'a very secret passphrase')
  remember('user password', password)
  const login = (await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: pw.basic })).json()
  remember('user access token', login.access_token)
  remember('user refresh token', login.refresh_token)
  for (let i = 0; i < 7; i++) await postForm(app, '/token', { grant_type: 'password', username, password: `wrong guess number ${i}` }, { authorization: pw.basic })
  remember('wrong guess', 'wrong guess number 3')
  await postForm(app, '/token', { grant_type: 'password', username: 'a very secret passphrase', password: 'x' }, { authorization: pw.basic })

  // Refresh (rotation), then reuse (family revoked), introspection, revocation.
  const refreshed = (await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: login.refresh_token }, { authorization: pw.basic })).json()
  remember('rotated refresh token', refreshed.refresh_token)
  remember('rotated access token', refreshed.access_token)
  await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: login.refresh_token }, { authorization: pw.basic })
  await postForm(app, '/introspect', { token: refreshed.access_token }, { authorization: pw.basic })
  await postForm(app, '/revoke', { token: refreshed.refresh_token }, { authorization: pw.basic })
  // Tokens in places they do not belong: the query string, a repeated parameter, a 404 URL.
  await app.inject({ method: 'POST', url: `/token?access_token=${ccToken}&client_secret=${cc.secret}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' })
  await postForm(app, '/token', { grant_type: 'client_credentials', client_secret: cc.secret!, client_id: cc.client.id } as Record<string, string>, { authorization: cc.basic })
  await app.inject({ method: 'GET', url: `/nowhere?token=${ccToken}&password=${password}` })

  // Admin API: secrets in responses and passwords in requests; an invalid token; metrics.
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => app.inject({ method, url, payload, headers: { authorization: admin.authorization } })
  const created = (await call('POST', '/admin/clients', { name: 'logged', scopes: ['read'] })).json()
  remember('admin-created client secret', created.client_secret)
  remember('rotated client secret', (await call('POST', `/admin/clients/${created.client_id}/secret`)).json().client_secret)
  const newUser = (await call('POST', '/admin/users', { username: 'bob', password: 'bobs secret passphrase' })).json()
  remember('admin-created user password', 'bobs secret passphrase')
  await call('POST', `/admin/users/${newUser.id}/password`, { password: 'bobs reset passphrase' })
  remember('reset password', 'bobs reset passphrase')
  await call('POST', '/admin/users', { username: 'carol', password: 'password' })
  await call('POST', '/admin/users', { username: 'dave', password: 'daves passphrase', unknown: 1 })
  remember('rejected-request password', 'daves passphrase')
  await app.inject({ method: 'GET', url: '/admin/keys', headers: { authorization: `Bearer ${login.access_token}` } })
  await app.inject({ method: 'GET', url: '/admin/keys', headers: { authorization: `Bearer ${admin.accessToken}x` } })
  await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${app.config.metricsToken}` } })
  remember('metrics token', app.config.metricsToken)

  const log = lines.join('')
  t.ok(lines.length > 50, `captured ${lines.length} log lines`)
  t.equal(app.log.level, 'trace', 'logging at trace level')
  t.match(log, /audit: login_failed/, 'the flows were logged')
  for (const [name, value] of Object.entries(secrets)) {
    t.notOk(log.includes(value), `${name} is not in the log`)
    // Also not in an encoded form (a query string, a Basic header).
    t.notOk(log.includes(encodeURIComponent(value)), `${name} is not in the log, URL-encoded`)
  }
  t.notOk(log.includes(Buffer.from(`${cc.client.id}:${cc.secret}`).toString('base64')), 'no Basic credentials')
})

t.test('redaction applies after percent-decoding, and login_hint is not logged', async (t) => {
  const lines: string[] = []
  const capture = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const app = await build(t, { loggerInstance: pino(loggerOptions('trace'), capture) })
  const secret = 'Sec+ret/Value=123'
  const encoded = encodeURIComponent(secret)
  await app.inject({ method: 'GET', url: `/nowhere?client%5Fsecret=${encoded}` })
  await app.inject({ method: 'GET', url: `/nowhere?%63%6F%64%65=code-value-abc&x=1` })
  await app.inject({ method: 'GET', url: `/nowhere?a=1&REFRESH%5FTOKEN=refresh-value-def` })
  await app.inject({ method: 'GET', url: `/nowhere?pass%77ord=password-value-ghi` })
  await app.inject({ method: 'GET', url: `/nowhere?client_secret=%zz${encoded}` })
  await app.inject({ method: 'GET', url: '/authorize?client_id=x&login_hint=alice%40example.com' })
  await app.inject({ method: 'GET', url: '/authorize?client_id=x&login%5Fhint=bob%40example.com' })
  const log = lines.join('')
  t.match(log, /"url":"\/nowhere\?client%5Fsecret=\[Redacted\]"/, 'the parameter name stays as sent, the value is redacted')
  for (const value of [secret, encoded, 'code-value-abc', 'refresh-value-def', 'password-value-ghi', 'alice', 'bob']) {
    t.notOk(log.includes(value), `${value} is not in the log`)
  }
  t.match(log, /x=1/, 'other parameters are kept')
})
