/**
 * Refresh tokens without rotation (FAPI 2.0 Security Profile §5.3.2.1: the AS "shall not use
 * refresh token rotation except in extraordinary circumstances"): a client with
 * `refreshTokenRotation: false` (the fapi2 profile's default) keeps one refresh token for the whole
 * family, and every use still goes through the privilege checks of issue 11: scope narrowing,
 * disabled user or client, ended session, family max age, revocation.
 *
 * @module
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createAdmin, createClient, createUser, postForm, passwordGrant as login, refreshGrant as refresh } from '../helper.js'
import { issueTokenPair } from '../../src/grants/issue_pair.js'
import { normalizeClientSettings, rotatesRefreshTokens } from '../../src/domain/clients.js'
import { dpopKey, proof } from '../fixtures/dpop.js'

const jtiOf = (token: string) => decodeJwt(token).jti as string

async function row (app: FastifyInstance, token: string) {
  return (await app.prisma.refreshToken.findUnique({ where: { jti: jtiOf(token) } }))!
}

async function familySize (app: FastifyInstance, token: string) {
  return app.prisma.refreshToken.count({ where: { familyId: (await row(app, token)).familyId } })
}

async function familyRevoked (app: FastifyInstance, token: string) {
  return app.prisma.refreshToken.count({ where: { familyId: (await row(app, token)).familyId, revokedAt: null } }).then((live) => live === 0)
}

const fixed = { firstParty: true, grantTypes: ['password', 'refresh_token'], refreshTokenRotation: false }

t.test('the same refresh token keeps working, and nothing is consumed or added', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { ...fixed, scopes: ['read', 'write'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read', 'write'])
  const first = await login(app, client, username, password)
  for (let i = 0; i < 3; i++) {
    const res = await refresh(app, client, first.refresh_token)
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.headers['cache-control'], 'no-store')
    t.equal(res.json().refresh_token, first.refresh_token, 'the same refresh token is handed back')
    t.equal(res.json().scope, 'read write')
    t.not(res.json().access_token, first.access_token)
    // Issue 15: the login's auth_time and acr stay on every access token of the family.
    const claims = decodeJwt(res.json().access_token)
    t.equal(claims.auth_time, decodeJwt(first.access_token).auth_time, 'the original auth_time')
    t.ok(typeof claims.auth_time === 'number' && claims.acr === decodeJwt(first.access_token).acr, 'auth_time and acr carried')
  }
  t.equal((await row(app, first.refresh_token)).consumedAt, null)
  t.equal(await familySize(app, first.refresh_token), 1, 'no successor was stored')
  const narrowed = await refresh(app, client, first.refresh_token, { scope: 'read' })
  t.equal(narrowed.json().scope, 'read', 'a narrower request narrows the access token only')
  t.equal((await refresh(app, client, first.refresh_token)).json().scope, 'read write')
  t.equal((await refresh(app, client, first.refresh_token, { scope: 'read admin' })).json().error, 'invalid_scope')
  const other = await createClient(app, { ...fixed, scopes: ['read', 'write'] })
  t.equal((await refresh(app, other, first.refresh_token)).json().error, 'invalid_grant', 'another client cannot use it')

  // The same client with rotation on: the next use rotates, as for any client.
  await app.prisma.client.update({ where: { id: client.client.id }, data: { refreshTokenRotation: true } })
  app.clientCache.forget(client.client.id)
  const rotated = await refresh(app, client, first.refresh_token)
  t.not(rotated.json().refresh_token, first.refresh_token)
  t.ok((await row(app, first.refresh_token)).consumedAt, 'consumed once rotation is on again')
})

t.test('scope narrowing: what the user or client lost is gone for good; nothing left revokes the family', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { ...fixed, scopes: ['read', 'write', 'delete'] })
  const { user, username, password } = await createUser(app, undefined, undefined, ['read', 'write', 'delete'])
  const first = await login(app, client, username, password)
  await app.prisma.user.update({ where: { id: user.id }, data: { scopes: ['read', 'write'] } })
  const afterUser = await refresh(app, client, first.refresh_token)
  t.equal(afterUser.statusCode, 200)
  t.equal(afterUser.json().scope, 'read write')
  t.equal(decodeJwt(afterUser.json().access_token).scope, 'read write')
  t.equal((await row(app, first.refresh_token)).scope, 'read write', 'the narrower scope is stored on the token')
  await app.prisma.user.update({ where: { id: user.id }, data: { scopes: ['read', 'write', 'delete'] } })
  t.equal((await refresh(app, client, first.refresh_token)).json().scope, 'read write', 'a privilege given back does not come back')
  await app.prisma.client.update({ where: { id: client.client.id }, data: { scopes: ['read', 'delete'] } })
  app.clientCache.forget(client.client.id)
  t.equal((await refresh(app, client, first.refresh_token)).json().scope, 'read')
  await app.prisma.user.update({ where: { id: user.id }, data: { scopes: [] } })
  const gone = await refresh(app, client, first.refresh_token)
  t.equal(gone.json().error, 'invalid_grant')
  t.ok(await familyRevoked(app, first.refresh_token))
})

t.test('a third-party client: narrowed to the consent, refused without one', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://rp.example/cb'], scopes: ['openid', 'read', 'write'], refreshTokenRotation: false })
  const { user } = await createUser(app, undefined, undefined, ['read', 'write'])
  await app.consents.grant(user.id, client.client.id, ['openid', 'read', 'write'])
  const sessionId = `sid-${user.id}`
  await app.prisma.session.create({ data: { id: sessionId, tokenHash: sessionId, userId: user.id, authTime: new Date(), expiresAt: new Date(Date.now() + 3600_000) } })
  const first = (await issueTokenPair({ client: client.client, sub: user.id, userId: user.id, scope: 'openid read write', audience: client.client.audiences, refresh: true, sessionId }, app.grantServices)).refresh_token!
  t.equal((await refresh(app, client, first)).json().scope, 'openid read write')
  await app.prisma.consent.update({ where: { userId_clientId: { userId: user.id, clientId: client.client.id } }, data: { scopes: ['openid', 'read'] } })
  t.equal((await refresh(app, client, first)).json().scope, 'openid read')
  await app.prisma.consent.deleteMany({ where: { userId: user.id } })
  t.equal((await refresh(app, client, first)).json().error, 'invalid_grant')
  t.ok(await familyRevoked(app, first))

  // An ended session ends the family too.
  await app.consents.grant(user.id, client.client.id, ['openid', 'read'])
  const second = (await issueTokenPair({ client: client.client, sub: user.id, userId: user.id, scope: 'openid read', audience: client.client.audiences, refresh: true, sessionId }, app.grantServices)).refresh_token!
  t.equal((await refresh(app, client, second)).statusCode, 200)
  await app.prisma.session.update({ where: { id: sessionId }, data: { endedAt: new Date() } })
  const ended = await refresh(app, client, second)
  t.equal(ended.json().error, 'invalid_grant')
  t.match(ended.json().error_description, /session/)
  t.ok(await familyRevoked(app, second))
})

t.test('disabled user, disabled client, revocation, family max age: all refused', async (t) => {
  const maxAge = 3600
  const app = await build(t, { env: { REFRESH_FAMILY_MAX_AGE: String(maxAge), REFRESH_TOKEN_TTL: '86400' } })
  const client = await createClient(app, { ...fixed, scopes: ['read'] })
  const { user, username, password } = await createUser(app, undefined, undefined, ['read'])

  const a = await login(app, client, username, password)
  await app.prisma.user.update({ where: { id: user.id }, data: { disabled: true } })
  t.match((await refresh(app, client, a.refresh_token)).json(), { error: 'invalid_grant', error_description: /user/ })
  t.ok(await familyRevoked(app, a.refresh_token))
  await app.prisma.user.update({ where: { id: user.id }, data: { disabled: false } })

  const b = await login(app, client, username, password)
  await app.clientCache.find(client.client.id)
  await app.prisma.client.update({ where: { id: client.client.id }, data: { disabled: true } })
  t.equal((await refresh(app, client, b.refresh_token)).json().error, 'invalid_grant', 'disabled behind the cache\'s back')
  t.ok(await familyRevoked(app, b.refresh_token))
  await app.prisma.client.update({ where: { id: client.client.id }, data: { disabled: false } })

  const c = await login(app, client, username, password)
  const revoke = await postForm(app, '/revoke', { token: c.refresh_token }, { authorization: client.basic })
  t.equal(revoke.statusCode, 200)
  t.match((await refresh(app, client, c.refresh_token)).json(), { error: 'invalid_grant' })

  const d = await login(app, client, username, password)
  await app.prisma.refreshToken.updateMany({ where: { jti: jtiOf(d.refresh_token) }, data: { familyCreatedAt: new Date(Date.now() - (maxAge + 5) * 1000) } })
  t.match((await refresh(app, client, d.refresh_token)).json(), { error: 'invalid_grant', error_description: /too old/ })
})

t.test('a token consumed before rotation was turned off: a retry gets its successor, a reuse revokes the family', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)
  const second = (await refresh(app, client, first.refresh_token)).json().refresh_token as string
  await app.prisma.client.update({ where: { id: client.client.id }, data: { refreshTokenRotation: false } })
  app.clientCache.forget(client.client.id)
  const retry = await refresh(app, client, first.refresh_token)
  t.equal(retry.json().refresh_token, second, 'within the retry window: the successor again')
  t.equal((await refresh(app, client, second)).json().refresh_token, second, 'the successor is now kept')
  t.equal((await refresh(app, client, second)).json().refresh_token, second)
  await app.prisma.refreshToken.updateMany({ where: { jti: jtiOf(first.refresh_token) }, data: { consumedAt: new Date(Date.now() - 3600_000) } })
  t.equal((await refresh(app, client, first.refresh_token)).json().error, 'invalid_grant')
  t.ok(await familyRevoked(app, second), 'reuse of the consumed ancestor revoked the family')
})

t.test('a DPoP-bound public client: the kept token still needs the same key', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { public: true, firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], dpopBoundAccessTokens: true, refreshTokenRotation: false })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const key = await dpopKey()
  const other = await dpopKey()
  const TOKEN = 'http://stamp.test/token'
  const token = (form: Record<string, string>, dpop: string) => postForm(app, '/token', { client_id: client.client.id, ...form }, { dpop })
  const first = (await token({ grant_type: 'password', username, password, scope: 'read' }, await proof(key, { htu: TOKEN }))).json()
  t.same(decodeJwt(first.refresh_token).cnf, { jkt: key.jkt })
  for (let i = 0; i < 2; i++) {
    const res = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, await proof(key, { htu: TOKEN }))
    t.equal(res.statusCode, 200, res.body)
    t.equal(res.json().refresh_token, first.refresh_token)
    t.equal(res.json().token_type, 'DPoP')
  }
  const stolen = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token }, await proof(other, { htu: TOKEN }))
  t.equal(stolen.json().error, 'invalid_grant')
  t.match(stolen.json().error_description, /another DPoP key/)
})

t.test('the setting: default on, fapi2 off, and a public client needs DPoP-bound tokens to turn it off', async (t) => {
  t.equal(rotatesRefreshTokens({}), true)
  t.equal(rotatesRefreshTokens({ refreshTokenRotation: null, profile: 'fapi2' }), false)
  t.equal(rotatesRefreshTokens({ refreshTokenRotation: true, profile: 'fapi2' }), true, 'the client\'s own setting wins')
  t.equal(rotatesRefreshTokens({ refreshTokenRotation: false }), false)
  const base = { name: 'App', public: true, firstParty: false, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: ['https://app.example/cb'], postLogoutRedirectUris: [], backchannelLogoutUri: null, scopes: ['openid'], audiences: [], requirePkce: true }
  t.throws(() => normalizeClientSettings({ ...base, refreshTokenRotation: false }, ['authorization_code', 'refresh_token']), /RFC 9700/)
  t.doesNotThrow(() => normalizeClientSettings({ ...base, refreshTokenRotation: false, dpopBoundAccessTokens: true }, ['authorization_code', 'refresh_token']))
  t.doesNotThrow(() => normalizeClientSettings({ ...base, public: false, refreshTokenRotation: false }, ['authorization_code', 'refresh_token']))
})

t.test('admin API and dynamic registration: refresh_token_rotation', async (t) => {
  const app = await build(t, { env: { REGISTRATION: 'open' } })
  const admin = await createAdmin(app)
  const headers = { authorization: admin.authorization }
  const created = await app.inject({ method: 'POST', url: '/admin/clients', headers, payload: { name: 'Service', grant_types: ['client_credentials'], refresh_token_rotation: false } })
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.json().refresh_token_rotation, false)
  const id = created.json().client_id
  t.equal((await app.clientStore.find(id))!.refreshTokenRotation, false)
  const patched = await app.inject({ method: 'PATCH', url: `/admin/clients/${id}`, headers, payload: { refresh_token_rotation: null } })
  t.equal(patched.statusCode, 200, patched.body)
  t.equal(patched.json().refresh_token_rotation, true, 'null: the default (on)')
  t.equal((await app.inject({ method: 'PATCH', url: `/admin/clients/${id}`, headers, payload: { name: 'Renamed' } })).json().refresh_token_rotation, true, 'unchanged when not sent')
  const spa = await app.inject({ method: 'POST', url: '/admin/clients', headers, payload: { name: 'SPA', public: true, grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['https://spa.example/cb'], refresh_token_rotation: false } })
  t.equal(spa.statusCode, 400)
  t.match(spa.json().error_description, /RFC 9700/)
  const bad = await app.inject({ method: 'POST', url: '/admin/clients', headers, payload: { name: 'X', refresh_token_rotation: 'off' } })
  t.equal(bad.statusCode, 400)

  const register = (body: unknown) => app.inject({ method: 'POST', url: '/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  const dcr = { client_name: 'App', redirect_uris: ['http://127.0.0.1:49152/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }
  const publicOff = await register({ ...dcr, token_endpoint_auth_method: 'none', refresh_token_rotation: false })
  t.equal(publicOff.statusCode, 400)
  t.equal(publicOff.json().error, 'invalid_client_metadata')
  const boundOff = await register({ ...dcr, token_endpoint_auth_method: 'none', dpop_bound_access_tokens: true, refresh_token_rotation: false })
  t.equal(boundOff.statusCode, 201, boundOff.body)
  t.equal(boundOff.json().refresh_token_rotation, false)
  t.equal((await app.clientStore.find(boundOff.json().client_id))!.refreshTokenRotation, false)
  t.equal((await register({ ...dcr, refresh_token_rotation: 'no' })).json().error, 'invalid_client_metadata')
})
