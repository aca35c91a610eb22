/**
 * The admin API routes the console needs, as any client sees them: user and client search,
 * overview counts, every live session, the key rotation rule as dates, audit filters with the
 * cursor, and the effective configuration with secrets masked.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { build, createAdmin, createClient, createUser } from '../../helper.js'

t.test('admin API for the console', async (t) => {
  const app = await build(t, { env: { METRICS_TOKEN: 'm'.repeat(40), REDIS_URL: 'redis://:redis-secret@127.0.0.1:1/0' } })
  const admin = await createAdmin(app)
  const call = (path: string, method: 'GET' | 'POST' = 'GET') => app.inject({ method, url: path, headers: { authorization: admin.authorization } })

  t.test('every new route needs an admin token', async (t) => {
    for (const path of ['/admin/overview', '/admin/config', '/admin/sessions', '/admin/users?q=a', '/admin/clients?q=a']) {
      const res = await app.inject({ method: 'GET', url: path })
      t.equal(res.statusCode, 401, path)
    }
  })

  t.test('users: search by username or email, case-insensitive, paged', async (t) => {
    await createUser(app, 'Grace.Hopper')
    await createUser(app, 'grace-two')
    const other = await createUser(app, 'linus')
    await app.usersRepository.update(other.user.id, { email: 'torvalds@GRACE.example' })
    const res = await call('/admin/users?q=GRACE&limit=50')
    t.equal(res.statusCode, 200)
    t.same(res.json().items.map((u: { username: string }) => u.username), ['Grace.Hopper', 'grace-two', 'linus'])
    const first = (await call('/admin/users?q=grace&limit=2')).json()
    t.equal(first.items.length, 2)
    const second = (await call(`/admin/users?q=grace&limit=2&cursor=${encodeURIComponent(first.next_cursor)}`)).json()
    t.same(second.items.map((u: { username: string }) => u.username), ['linus'], 'the cursor pages within the search')
    t.same((await call('/admin/users?q=%25')).json().items, [], 'LIKE wildcards are literal')
    t.equal((await call('/admin/users?q=')).statusCode, 400, 'an empty search is refused')
  })

  t.test('clients: search by id or name', async (t) => {
    await createClient(app, { id: 'billing-api', name: 'Invoices' })
    await createClient(app, { id: 'reports', name: 'Billing reports' })
    const res = await call('/admin/clients?q=billing')
    t.same(res.json().items.map((c: { client_id: string }) => c.client_id), ['billing-api', 'reports'])
  })

  t.test('overview counts', async (t) => {
    const before = (await call('/admin/overview')).json()
    const user = await createUser(app)
    await app.usersRepository.update(user.user.id, { disabled: true })
    await createClient(app, { origin: 'dcr' })
    const after = (await call('/admin/overview')).json()
    t.equal(after.users.total, before.users.total + 1)
    t.equal(after.users.disabled, before.users.disabled + 1)
    t.equal(after.clients.dcr, before.clients.dcr + 1)
    t.same(after.keys, { next: 1, active: 1, retiring: 0, retired: 0, revoked: 0 })
  })

  t.test('every live session, and the count', async (t) => {
    const user = await createUser(app)
    const now = Date.now()
    const live = await app.sessions.create({ id: `s-${randomUUID()}`, tokenHash: randomUUID(), userId: user.user.id, authTime: new Date(now), expiresAt: new Date(now + 3600_000) })
    await app.sessions.create({ id: `s-${randomUUID()}`, tokenHash: randomUUID(), userId: user.user.id, authTime: new Date(now - 7200_000), expiresAt: new Date(now - 3600_000) })
    const list = (await call('/admin/sessions')).json()
    t.same(list.items.map((s: { sid: string }) => s.sid), [live.id], 'only the live one')
    t.equal((await call('/admin/overview')).json().active_sessions, 1)
  })

  t.test('keys: the rotation rule as dates', async (t) => {
    const body = (await call('/admin/keys')).json()
    const next = body.keys.find((k: { status: string }) => k.status === 'next')
    const rule = body.rotation
    t.equal(rule.pre_publication_seconds, app.config.policy.jwksMaxAge + Math.ceil(app.config.policy.keyRefreshInterval))
    t.equal(new Date(rule.next_rotatable_at).getTime(), new Date(next.created_at).getTime() + rule.pre_publication_seconds * 1000)
    t.ok(new Date(rule.scheduled_rotation_at) >= new Date(rule.next_rotatable_at))
    const refused = await app.inject({ method: 'POST', url: '/admin/keys/rotate', headers: { authorization: admin.authorization }, payload: {} })
    t.equal(refused.statusCode, 409, 'the rule the dates describe refuses a rotation now')
  })

  t.test('audit trail: type, actor, subject and time filters with the cursor', async (t) => {
    const start = new Date()
    for (const subject of ['a', 'b', 'a']) await app.audit.record({ type: 'admin_token_rejected', actor: 'tester', subject })
    await app.audit.record({ type: 'admin_token_rejected', actor: 'someone-else', subject: 'a' })
    const bySubject = (await call('/admin/audit-events?type=admin_token_rejected&actor=tester&subject=a')).json()
    t.equal(bySubject.items.length, 2)
    t.ok(bySubject.items.every((e: { actor: string, subject: string }) => e.actor === 'tester' && e.subject === 'a'))
    const page1 = (await call('/admin/audit-events?type=admin_token_rejected&limit=3')).json()
    t.equal(page1.items.length, 3)
    const page2 = (await call(`/admin/audit-events?type=admin_token_rejected&limit=3&cursor=${page1.next_cursor}`)).json()
    t.equal(page2.items.length, 1, 'the cursor continues the filtered list')
    const since = encodeURIComponent(new Date(start.getTime() - 1000).toISOString())
    t.equal((await call(`/admin/audit-events?type=admin_token_rejected&since=${since}`)).json().items.length, 4)
    const until = encodeURIComponent(new Date(start.getTime() - 1000).toISOString())
    t.equal((await call(`/admin/audit-events?type=admin_token_rejected&until=${until}`)).json().items.length, 0)
    t.equal((await call('/admin/audit-events?since=yesterday')).statusCode, 400)
    const impossible = await call('/admin/audit-events?since=2026-02-31T25:00:00Z')
    t.equal(impossible.statusCode, 400)
    t.equal(impossible.json().error, 'invalid_request')
  })

  t.test('effective configuration: every setting, secrets masked', async (t) => {
    const res = await call('/admin/config')
    t.equal(res.statusCode, 200)
    t.equal(res.headers['cache-control'], 'no-store')
    const body = res.json()
    const setting = (name: string) => body.settings.find((s: { name: string }) => s.name === name)
    t.equal(body.issuer, 'http://stamp.test')
    t.same(setting('KEY_ENCRYPTION_KEY'), { ...setting('KEY_ENCRYPTION_KEY'), value: '********', masked: true, source: 'environment' })
    t.same(setting('METRICS_TOKEN'), { ...setting('METRICS_TOKEN'), value: '********', masked: true })
    t.equal(setting('REDIS_URL').value, 'redis://:********@127.0.0.1:1/0', 'a URL keeps its host, not its password')
    t.equal(setting('REDIS_URL').masked, true)
    t.equal(setting('ACCESS_TOKEN_TTL').source, 'default')
    t.equal(setting('CONSOLE').value, true)
    t.notMatch(res.body, /m{40}|redis-secret/, 'no secret anywhere in the response')
  })
})
