import t from 'tap'
import { build, createClient, createUser, passwordGrant as login, refreshGrant as refresh } from '../helper.js'

t.test('refresh_token grant with rotation', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'] })
  const other = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'] })
  const { username, password } = await createUser(app, 'carol', 'correct horse battery staple', ['read', 'write'])

  t.test('each use returns a new pair in the same family', async (t) => {
    const first = await login(app, client, username, password)
    const res = await refresh(app, client, first.refresh_token)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['cache-control'], 'no-store')
    const second = res.json()
    t.not(second.refresh_token, first.refresh_token)
    t.not(second.access_token, first.access_token)
    const jti = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString()).jti
    const a = await app.refreshTokens.find(jti(first.refresh_token))
    const b = await app.refreshTokens.find(jti(second.refresh_token))
    t.equal(a!.familyId, b!.familyId)
    t.ok(a!.consumedAt)
    t.notOk(b!.consumedAt)
  })

  t.test('presenting a consumed token again once its successor was used revokes the whole family', async (t) => {
    const first = await login(app, client, username, password)
    const second = (await refresh(app, client, first.refresh_token)).json()
    const third = (await refresh(app, client, second.refresh_token)).json()
    const reuse = await refresh(app, client, first.refresh_token)
    t.equal(reuse.statusCode, 400)
    t.equal(reuse.json().error, 'invalid_grant')
    // the legitimate successor is revoked too (RFC 9700 §4.14.2)
    const after = await refresh(app, client, third.refresh_token)
    t.equal(after.statusCode, 400)
    t.equal(after.json().error, 'invalid_grant')
  })

  t.test('a refresh token only works for the client it was issued to', async (t) => {
    const first = await login(app, client, username, password)
    const res = await refresh(app, other, first.refresh_token)
    t.equal(res.json().error, 'invalid_grant')
    // and the attempt did not burn it for its owner
    t.equal((await refresh(app, client, first.refresh_token)).statusCode, 200)
  })

  t.test('scope may be narrowed but not widened', async (t) => {
    const first = await login(app, client, username, password)
    t.equal(first.scope, 'read write')
    const narrowed = await refresh(app, client, first.refresh_token, { scope: 'read' })
    t.equal(narrowed.statusCode, 200)
    t.equal(narrowed.json().scope, 'read')
    // the family keeps the original grant
    const again = await refresh(app, client, narrowed.json().refresh_token)
    t.equal(again.json().scope, 'read write')
    const widened = await refresh(app, client, again.json().refresh_token, { scope: 'read admin' })
    t.equal(widened.json().error, 'invalid_scope')
  })

  t.test('a refused refresh (invalid_scope) does not consume the token', async (t) => {
    const first = await login(app, client, username, password)
    const widened = await refresh(app, client, first.refresh_token, { scope: 'read admin' })
    t.equal(widened.statusCode, 400)
    t.equal(widened.json().error, 'invalid_scope')
    t.equal(widened.headers['cache-control'], 'no-store')
    const res = await refresh(app, client, first.refresh_token)
    t.equal(res.statusCode, 200, 'the same token still works: nothing was consumed')
    t.equal(res.json().scope, 'read write')
  })

  t.test('garbage, access tokens and tampered tokens are invalid_grant', async (t) => {
    const first = await login(app, client, username, password)
    for (const token of ['garbage', first.access_token, first.refresh_token.slice(0, -2) + 'AA']) {
      const res = await refresh(app, client, token)
      t.equal(res.statusCode, 400)
      t.equal(res.json().error, 'invalid_grant')
    }
  })
})

t.test('REFRESH_RETRY_SECONDS=0, 50 concurrent refreshes of one token: exactly one succeeds, the family ends revoked, nothing half-written', async (t) => {
  const app = await build(t, { env: { REFRESH_RETRY_SECONDS: '0' } })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)
  const results = await Promise.all(Array.from({ length: 50 }, () => refresh(app, client, first.refresh_token)))
  const ok = results.filter((r) => r.statusCode === 200)
  t.equal(ok.length, 1)
  t.ok(results.filter((r) => r.statusCode !== 200).every((r) => r.json().error === 'invalid_grant'))
  const jti = JSON.parse(Buffer.from(first.refresh_token.split('.')[1], 'base64url').toString()).jti
  const familyId = (await app.refreshTokens.find(jti))!.familyId
  const rows = await app.prisma.refreshToken.findMany({ where: { familyId } })
  // the original and exactly one successor; no orphan successor rows from the losers
  t.equal(rows.length, 2)
  t.ok(rows.every((r) => r.revokedAt !== null), 'reuse revoked the whole family, successor included')
})

t.test('50 concurrent refreshes of one token from its client all get the one successor: one family, one live token', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)
  const results = await Promise.all(Array.from({ length: 50 }, () => refresh(app, client, first.refresh_token)))
  t.equal(results.filter((r) => r.statusCode === 200).length, 50)
  t.equal(new Set(results.map((r) => r.json().refresh_token)).size, 1)
  const jti = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString()).jti
  const familyId = (await app.refreshTokens.find(jti(first.refresh_token)))!.familyId
  t.equal(await app.prisma.refreshToken.count({ where: { familyId } }), 2)
  t.equal(await app.prisma.refreshToken.count({ where: { familyId, revokedAt: { not: null } } }), 0)
})

t.test('a disabled user can no longer refresh; the family is revoked', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { user, username, password } = await createUser(app)
  const first = await login(app, client, username, password)
  await app.prisma.user.update({ where: { id: user.id }, data: { disabled: true } })
  const res = await refresh(app, client, first.refresh_token)
  t.equal(res.json().error, 'invalid_grant')
  const jti = JSON.parse(Buffer.from(first.refresh_token.split('.')[1], 'base64url').toString()).jti
  t.ok((await app.refreshTokens.find(jti))!.revokedAt)
})

t.test('resource (RFC 8707) narrows the new access token to one audience; an unknown one consumes nothing', async (t) => {
  const app = await build(t)
  const client = await createClient(app, {
    firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], audiences: ['https://a.example.com', 'https://b.example.com'],
  })
  const { username, password } = await createUser(app)
  const first = await login(app, client, username, password)
  const aud = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString()).aud

  const refused = await refresh(app, client, first.refresh_token, { resource: 'https://c.example.com' })
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().error, 'invalid_target')
  const fragment = await refresh(app, client, first.refresh_token, { resource: 'https://a.example.com#x' })
  t.equal(fragment.json().error, 'invalid_request')

  const narrowed = await refresh(app, client, first.refresh_token, { resource: 'https://b.example.com' })
  t.equal(narrowed.statusCode, 200, 'the refused attempts did not consume the token')
  t.equal(aud(narrowed.json().access_token), 'https://b.example.com')
  // the family keeps every audience: the next refresh without resource gets both again
  const next = await refresh(app, client, narrowed.json().refresh_token)
  t.same(aud(next.json().access_token), ['https://a.example.com', 'https://b.example.com'])
})
