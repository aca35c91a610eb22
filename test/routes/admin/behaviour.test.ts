/**
 * What the admin routes do: secrets shown once and rotated, strict input, pagination, password
 * policy, and sign-out everywhere.
 */
import t from 'tap'
import { build, createAdmin, createClient, createUser, postForm } from '../../helper.js'

t.test('admin API behaviour', async (t) => {
  // A client cache TTL of several seconds: rotation must still take effect at once (forget()).
  const app = await build(t)
  const admin = await createAdmin(app)
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, headers: Record<string, string> = {}) =>
    app.inject({ method, url, payload, headers: { authorization: admin.authorization, ...headers } })

  t.test('client secret: shown once at creation, rotation invalidates the old one at once', async (t) => {
    const created = await call('POST', '/admin/clients', { name: 'svc', scopes: ['read'], audiences: ['https://api.example.com'] })
    t.equal(created.statusCode, 201)
    const { client_id: id, client_secret: secret } = created.json()
    t.ok(secret)
    const basic = (s: string) => 'Basic ' + Buffer.from(`${id}:${s}`).toString('base64')
    t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(secret) })).statusCode, 200)
    t.notOk((await call('GET', `/admin/clients/${id}`)).json().client_secret, 'never shown again')
    t.notOk('secret_hash' in (await call('GET', `/admin/clients/${id}`)).json(), 'the hash never leaves')

    const rotated = await call('POST', `/admin/clients/${id}/secret`)
    t.equal(rotated.statusCode, 200)
    const fresh = rotated.json().client_secret
    t.not(fresh, secret)
    t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(secret) })).statusCode, 401, 'old secret refused at once')
    t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(fresh) })).statusCode, 200)

    const patched = await call('PATCH', `/admin/clients/${id}`, { scopes: ['write'] })
    t.strictSame(patched.json().scopes, ['write'])
    t.equal((await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: basic(fresh) })).json().error, 'invalid_scope', 'PATCH takes effect at once')

    t.equal((await call('DELETE', `/admin/clients/${id}`)).statusCode, 204)
    t.equal((await call('GET', `/admin/clients/${id}`)).statusCode, 404)
    t.equal((await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic(fresh) })).statusCode, 401, 'deleted client refused at once')
    t.equal((await call('DELETE', `/admin/clients/${id}`)).statusCode, 404)
  })

  t.test('strict input', async (t) => {
    const unknownField = await call('POST', '/admin/clients', { name: 'x', is_admin: true })
    t.equal(unknownField.statusCode, 400)
    t.equal(unknownField.json().error, 'invalid_request')
    t.match(unknownField.json().error_description, /additional properties/)
    t.equal((await call('POST', '/admin/clients', { name: 'x', public: 'true' })).statusCode, 400, 'no type coercion in JSON bodies')
    t.equal((await call('POST', '/admin/clients', { name: 'x', grant_types: ['password'] })).json().error_description, 'the password grant requires a first-party client')
    t.equal((await call('PATCH', `/admin/clients/${admin.console.client.id}`, {})).statusCode, 400, 'empty PATCH')
    const form = await app.inject({ method: 'POST', url: '/admin/clients', payload: 'name=x', headers: { authorization: admin.authorization, 'content-type': 'application/x-www-form-urlencoded' } })
    t.equal(form.statusCode, 400)
    t.strictSame(form.json(), { error: 'invalid_request', error_description: 'unsupported content type' })
    t.equal((await call('GET', '/admin/users/not-a-uuid')).statusCode, 400)
    t.equal((await call('GET', '/admin/users?limit=0')).statusCode, 400)
    t.equal((await call('GET', '/admin/users?limit=1000')).statusCode, 400)
    t.equal((await call('GET', '/admin/users/00000000-0000-4000-8000-000000000000')).statusCode, 404)
  })

  t.test('pagination', async (t) => {
    for (let i = 0; i < 5; i++) await createClient(app, { id: `page-${i}` })
    const seen: string[] = []
    let url = '/admin/clients?limit=2'
    for (let pages = 0; pages < 10; pages++) {
      const body = (await call('GET', url)).json()
      seen.push(...body.items.map((c: { client_id: string }) => c.client_id))
      if (!body.next_cursor) break
      url = `/admin/clients?limit=2&cursor=${encodeURIComponent(body.next_cursor)}`
    }
    t.equal(new Set(seen).size, seen.length, 'no client twice')
    t.ok(['page-0', 'page-1', 'page-2', 'page-3', 'page-4'].every((id) => seen.includes(id)), 'every client once')
  })

  t.test('users: password policy, disable, reset, sign out everywhere', async (t) => {
    const common = await call('POST', '/admin/users', { username: 'alice', password: '123456789987654321' })
    t.equal(common.statusCode, 400)
    t.equal(common.json().error_description, 'password is too common; choose another')
    // NIST SP 800-63B-4: 15 for a password without a second factor.
    t.equal((await call('POST', '/admin/users', { username: 'alice', password: 'short password' })).json().error_description, 'password must be at least 15 characters')
    t.equal((await call('POST', '/admin/users', { username: 'alice-the-great', password: 'Alice-The-Great' })).json().error_description, 'password must not be the username')
    const created = await call('POST', '/admin/users', { username: 'alice', password: 'a fine long passphrase', admin: true })
    t.equal(created.statusCode, 201)
    t.strictSame(created.json().scopes, ['stamp:admin'])
    t.notOk('password_hash' in created.json())
    t.equal((await call('POST', '/admin/users', { username: 'alice', password: 'a fine long passphrase' })).statusCode, 409)

    const pw = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
    const { user, username, password } = await createUser(app)
    const login = () => postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: pw.basic })
    const first = (await login()).json().refresh_token
    const second = (await login()).json().refresh_token
    const families = (await call('GET', `/admin/users/${user.id}/refresh-families`)).json()
    t.equal(families.items.length, 2)
    t.ok(families.items.every((f: { active: boolean }) => f.active))
    t.equal((await call('GET', `/admin/users/${user.id}/sessions`)).json().items.length, 0, 'password-grant sign-ins are families, not SSO sessions')
    t.equal((await call('GET', `/admin/clients/${pw.client.id}/refresh-families`)).json().items.length, 2)

    const signOut = await call('POST', `/admin/users/${user.id}/sign-out`)
    t.strictSame(signOut.json(), { ended_sessions: 0, revoked_families: 2 })
    for (const token of [first, second]) {
      t.equal((await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: token }, { authorization: pw.basic })).json().error, 'invalid_grant')
    }
    t.notOk((await call('GET', `/admin/users/${user.id}/refresh-families`)).json().items.some((f: { active: boolean }) => f.active))

    t.equal((await call('PATCH', `/admin/users/${user.id}`, { disabled: true })).json().disabled, true)
    t.equal((await login()).json().error, 'invalid_grant', 'disabled user cannot log in')
    t.equal((await call('PATCH', `/admin/users/${user.id}`, { disabled: false })).json().disabled, false)
    t.equal((await login()).statusCode, 200, 'enabled again')

    t.equal((await call('POST', `/admin/users/${user.id}/password`, { password: 'password1' })).statusCode, 400, 'policy on reset')
    const reset = await call('POST', `/admin/users/${user.id}/password`, { password: 'another long passphrase' })
    t.strictSame(reset.json(), { ended_sessions: 0, revoked_families: 1 })
    t.equal((await login()).json().error, 'invalid_grant', 'old password refused')
    t.equal((await postForm(app, '/token', { grant_type: 'password', username, password: 'another long passphrase' }, { authorization: pw.basic })).statusCode, 200)
  })

  t.test('keys: rotation refused while the next key is too young, unless forced', async (t) => {
    const refused = await call('POST', '/admin/keys/rotate', {})
    t.equal(refused.statusCode, 409)
    t.match(refused.json().error_description, /JWKS_MAX_AGE/)
    const before = (await call('GET', '/admin/keys')).json().keys
    const rotated = await call('POST', '/admin/keys/rotate', { force: true })
    t.equal(rotated.statusCode, 200)
    t.equal(rotated.json().active, before.find((k: { status: string }) => k.status === 'next').kid)
    t.equal((await call('POST', '/admin/keys/nonexistent/revoke')).statusCode, 409)
    t.notOk(JSON.stringify((await call('GET', '/admin/keys')).json()).includes('private'), 'no key material')
  })

  t.test('audit trail over the API', async (t) => {
    const page = (await call('GET', '/admin/audit-events?type=key_rotated')).json()
    t.ok(page.items.length >= 1)
    t.ok(page.items.every((e: { type: string }) => e.type === 'key_rotated'))
    t.equal(page.items[0].actor, admin.user.id)
  })
})
