import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { build, createClient, createUser, postForm } from '../helper.js'
import { loggerOptions, redactUrl } from '../../src/logging.js'

t.test('no password, secret or token ever reaches the log', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const log = pino(loggerOptions('trace'), sink)
  const app = await build(t, { loggerInstance: log })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, 'dave', 'a very secret password 42', ['read'])

  const pair = (await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })).json()
  await postForm(app, '/token', { grant_type: 'password', username, password: 'wrong guess 123' }, { authorization: client.basic })
  const refreshed = (await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: client.client.id, client_secret: client.secret! })).json()
  await postForm(app, '/introspect', { token: refreshed.access_token }, { authorization: client.basic })
  await postForm(app, '/revoke', { token: refreshed.refresh_token }, { authorization: client.basic })
  await app.inject({ url: `/nope?access_token=${pair.access_token}&code=abc123def` })
  log.error({ body: { password, client_secret: client.secret, refresh_token: pair.refresh_token } }, 'a careless log call')

  const captured = lines.join('')
  t.ok(captured.includes('"reqId"'), 'request lines carry a request id')
  t.ok(lines.filter((l) => l.includes('"req"')).every((l) => l.includes('"reqId"')))
  for (const secret of [password, 'wrong guess 123', client.secret!, client.basic.slice(6), pair.access_token, pair.refresh_token, refreshed.access_token, refreshed.refresh_token, 'abc123def']) {
    t.notOk(captured.includes(secret), `not logged: ${secret.slice(0, 12)}…`)
  }
  t.ok(captured.includes('[Redacted]'))
})

t.test('redactUrl', async (t) => {
  t.equal(redactUrl('/cb?code=abc&state=xyz&x=1'), '/cb?code=[Redacted]&state=[Redacted]&x=1')
  t.equal(redactUrl('/jwks'), '/jwks')
})
