import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { build, createClient, createUser, postForm } from '../helper.js'
import { LazyChildLogger, loggerOptions, redactUrl } from '../../src/logging.js'

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

t.test('request loggers are made on first use, with the request id and the route level', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb() } })
  const log = pino(loggerOptions('info'), sink)
  let children = 0
  const child = log.child.bind(log)
  log.child = ((...args: Parameters<typeof log.child>) => { children++; return child(...args) }) as typeof log.child
  const app = await build(t, { loggerInstance: log })

  children = 0
  await app.inject({ url: '/jwks' }) // route level warn: nothing to log, so no child at all
  t.equal(children, 0, 'no pino child for a request that logs nothing')
  t.notOk(lines.some((l) => l.req !== undefined && (l.req as { url: string }).url === '/jwks'))

  await app.inject({ url: '/nope' }) // default level info: incoming and completed lines
  t.equal(children, 1, 'one child for a request that logs')
  const own = lines.filter((l) => (l.req as { url?: string } | undefined)?.url === '/nope' || l.msg === 'request completed')
  t.ok(own.length >= 2)
  const reqId = own[0].reqId
  t.type(reqId, 'string')
  t.ok(own.every((l) => l.reqId === reqId), 'every line of the request has its id')
})

t.test('LazyChildLogger follows the level it was given and materializes for child()', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb() } })
  const log = pino(loggerOptions('info'), sink)
  const lazy = new LazyChildLogger(log, { reqId: 'r1' }, { level: 'warn' })
  t.equal(lazy.level, 'warn')
  t.notOk(lazy.isLevelEnabled('info'))
  t.ok(lazy.isLevelEnabled('error'))
  lazy.info('hidden')
  lazy.warn({ a: 1 }, 'shown')
  t.same(lines.map((l) => [l.msg, l.reqId, l.a]), [['shown', 'r1', 1]])
  lazy.level = 'debug'
  lazy.debug('now shown')
  t.equal(lines.at(-1)?.msg, 'now shown')
  lazy.child({ sub: 'x' }).error('from a grandchild')
  t.match(lines.at(-1), { msg: 'from a grandchild', reqId: 'r1', sub: 'x' })
  t.equal(new LazyChildLogger(log, {}, {}).level, 'info', 'inherits the parent level when none is given')
})
