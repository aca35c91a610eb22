/**
 * Every admin route, table-driven: no token → 401 (bare Bearer challenge), a valid Stamp token
 * without stamp:admin → 403 insufficient_scope, an admin token → 2xx. The table is checked
 * against the OpenAPI document, so a new admin route without a row fails here.
 */
import t from 'tap'
import { SignJWT, generateKeyPair } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createAdmin, createClient, createUser, postForm } from '../../helper.js'
import { prismaFactorStore } from '../../../src/storage/prisma/factors.js'

interface Row {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** OpenAPI path, e.g. /admin/clients/{id} */
  path: string
  url: (f: Fixtures) => string
  body?: (f: Fixtures) => object
  status: number
}

interface Fixtures { linkId: string, passkeyId: string, idpId: string, deletableIdpId: string, inviteId: string, clientId: string, deletableClientId: string, revocableClientId: string, userId: string, familyId: string, sid: string, retiringKid: () => Promise<string> }

const rows: Row[] = [
  { method: 'GET', path: '/admin/clients', url: () => '/admin/clients?limit=2', status: 200 },
  { method: 'POST', path: '/admin/clients', url: () => '/admin/clients', body: () => ({ name: 'svc', scopes: ['read'] }), status: 201 },
  { method: 'GET', path: '/admin/clients/{id}', url: (f) => `/admin/clients/${f.clientId}`, status: 200 },
  { method: 'PATCH', path: '/admin/clients/{id}', url: (f) => `/admin/clients/${f.clientId}`, body: () => ({ name: 'renamed' }), status: 200 },
  { method: 'POST', path: '/admin/clients/{id}/secret', url: (f) => `/admin/clients/${f.clientId}/secret`, status: 200 },
  { method: 'GET', path: '/admin/clients/{id}/refresh-families', url: (f) => `/admin/clients/${f.clientId}/refresh-families`, status: 200 },
  { method: 'DELETE', path: '/admin/clients/{id}', url: (f) => `/admin/clients/${f.deletableClientId}`, status: 204 },
  { method: 'POST', path: '/admin/clients/revoke', url: () => '/admin/clients/revoke', body: (f) => ({ client_id: f.revocableClientId }), status: 200 },
  { method: 'POST', path: '/admin/clients/purge', url: () => '/admin/clients/purge', body: () => ({ unused_days: 30 }), status: 200 },
  { method: 'GET', path: '/admin/users', url: () => '/admin/users', status: 200 },
  { method: 'POST', path: '/admin/users', url: () => '/admin/users', body: () => ({ username: `new-${Math.random().toString(36).slice(2)}`, password: 'Tr0ub4dor&3 but longer' }), status: 201 },
  { method: 'GET', path: '/admin/users/{id}', url: (f) => `/admin/users/${f.userId}`, status: 200 },
  { method: 'PATCH', path: '/admin/users/{id}', url: (f) => `/admin/users/${f.userId}`, body: () => ({ email: 'changed@example.com' }), status: 200 },
  { method: 'GET', path: '/admin/users/{id}/sessions', url: (f) => `/admin/users/${f.userId}/sessions`, status: 200 },
  { method: 'GET', path: '/admin/users/{id}/refresh-families', url: (f) => `/admin/users/${f.userId}/refresh-families`, status: 200 },
  { method: 'GET', path: '/admin/refresh-families/{familyId}', url: (f) => `/admin/refresh-families/${f.familyId}`, status: 200 },
  { method: 'POST', path: '/admin/refresh-families/{familyId}/revoke', url: (f) => `/admin/refresh-families/${f.familyId}/revoke`, status: 200 },
  { method: 'DELETE', path: '/admin/users/{id}/consents/{clientId}', url: (f) => `/admin/users/${f.userId}/consents/${f.clientId}`, status: 200 },
  { method: 'POST', path: '/admin/users/{id}/reset-email', url: (f) => `/admin/users/${f.userId}/reset-email`, body: () => ({}), status: 200 },
  { method: 'GET', path: '/admin/invites', url: () => '/admin/invites', status: 200 },
  { method: 'POST', path: '/admin/invites', url: () => '/admin/invites', body: () => ({ email: `invitee-${Math.random().toString(36).slice(2)}@example.com` }), status: 201 },
  { method: 'DELETE', path: '/admin/invites/{id}', url: (f) => `/admin/invites/${f.inviteId}`, status: 204 },
  { method: 'GET', path: '/admin/users/{id}/factors', url: (f) => `/admin/users/${f.userId}/factors`, status: 200 },
  { method: 'DELETE', path: '/admin/users/{id}/factors/totp', url: (f) => `/admin/users/${f.userId}/factors/totp`, status: 200 },
  { method: 'DELETE', path: '/admin/users/{id}/factors/passkeys/{credentialId}', url: (f) => `/admin/users/${f.userId}/factors/passkeys/${f.passkeyId}`, status: 200 },
  { method: 'GET', path: '/admin/users/{id}/consents', url: (f) => `/admin/users/${f.userId}/consents`, status: 200 },
  { method: 'GET', path: '/admin/users/{id}/identities', url: (f) => `/admin/users/${f.userId}/identities`, status: 200 },
  { method: 'DELETE', path: '/admin/users/{id}/identities/{linkId}', url: (f) => `/admin/users/${f.userId}/identities/${f.linkId}`, status: 200 },
  { method: 'DELETE', path: '/admin/users/{id}/factors', url: (f) => `/admin/users/${f.userId}/factors`, status: 200 },
  { method: 'POST', path: '/admin/users/{id}/password', url: (f) => `/admin/users/${f.userId}/password`, body: () => ({ password: 'a brand new passphrase' }), status: 200 },
  { method: 'GET', path: '/admin/sessions/{sid}', url: (f) => `/admin/sessions/${f.sid}`, status: 200 },
  { method: 'DELETE', path: '/admin/sessions/{sid}', url: (f) => `/admin/sessions/${f.sid}`, status: 200 },
  { method: 'POST', path: '/admin/users/{id}/sign-out', url: (f) => `/admin/users/${f.userId}/sign-out`, status: 200 },
  { method: 'GET', path: '/admin/keys', url: () => '/admin/keys', status: 200 },
  { method: 'POST', path: '/admin/keys/rotate', url: () => '/admin/keys/rotate', body: () => ({ force: true }), status: 200 },
  { method: 'GET', path: '/admin/audit-events', url: () => '/admin/audit-events?limit=5', status: 200 },
  { method: 'GET', path: '/admin/overview', url: () => '/admin/overview', status: 200 },
  { method: 'GET', path: '/admin/config', url: () => '/admin/config', status: 200 },
  { method: 'GET', path: '/admin/sessions', url: () => '/admin/sessions', status: 200 },
  { method: 'GET', path: '/admin/identity-providers', url: () => '/admin/identity-providers', status: 200 },
  { method: 'POST', path: '/admin/identity-providers', url: () => '/admin/identity-providers', body: () => ({ slug: `idp-${Math.random().toString(36).slice(2, 8)}`, issuer: 'https://idp.example.com', client_id: 'stamp', client_secret: 'an upstream secret' }), status: 201 },
  { method: 'GET', path: '/admin/identity-providers/{id}', url: (f) => `/admin/identity-providers/${f.idpId}`, status: 200 },
  { method: 'PATCH', path: '/admin/identity-providers/{id}', url: (f) => `/admin/identity-providers/${f.idpId}`, body: () => ({ display_name: 'Renamed' }), status: 200 },
  { method: 'DELETE', path: '/admin/identity-providers/{id}', url: (f) => `/admin/identity-providers/${f.deletableIdpId}`, status: 200 },
  // Last: revoking the key that signed the test's tokens ends their validity (checked below).
  { method: 'POST', path: '/admin/keys/{kid}/revoke', url: () => '/admin/keys/PLACEHOLDER/revoke', status: 200 },
]

async function fixtures (app: FastifyInstance): Promise<Fixtures> {
  const { client } = await createClient(app)
  const deletable = await createClient(app)
  const revocable = await createClient(app)
  const pwClient = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  const { user, username, password } = await createUser(app)
  const login = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: pwClient.basic })
  const familyId = (await app.refreshTokens.find(JSON.parse(Buffer.from(login.json().refresh_token.split('.')[1], 'base64url').toString()).jti))!.familyId
  // An SSO session row, as the hosted login creates one.
  const session = await app.sessions.create({ id: 'sid-fixture', tokenHash: 'hash-fixture', userId: user.id, authTime: new Date(), expiresAt: new Date(Date.now() + 3_600_000) })
  // An invitation to withdraw.
  const invite = await app.accounts.invite('fixture-invitee@example.com', [], { issuer: 'http://localhost', locale: 'en', actor: 'fixture' })
  // A passkey to remove (stored as registration would; no WebAuthn ceremony needed here).
  await prismaFactorStore(app.prisma).addPasskey({ id: 'fixture-passkey', userId: user.id, publicKey: new Uint8Array([1]), signCount: 0, backupEligible: false, backupState: false, transports: [], name: 'Key' })
  const idp = await app.identityProviders.create({ slug: 'fixture-idp', issuer: 'https://idp.example.com', clientId: 'stamp', clientSecret: 'fixture secret' }, { actor: 'fixture' })
  const deletableIdp = await app.identityProviders.create({ slug: 'deletable-idp', issuer: 'https://idp.example.com', clientId: 'stamp', clientSecret: 'fixture secret' }, { actor: 'fixture' })
  // A linked upstream identity to unlink.
  const link = await app.dbPool.query<{ id: string }>('INSERT INTO federated_identities (id, provider_id, subject, user_id) VALUES (gen_random_uuid(), $1, $2, $3) RETURNING id', [idp.id, 'fixture-sub', user.id])
  return {
    linkId: link.rows[0].id,
    passkeyId: 'fixture-passkey',
    idpId: idp.id,
    deletableIdpId: deletableIdp.id,
    inviteId: invite.id,
    sid: session.id,
    clientId: client.id,
    deletableClientId: deletable.client.id,
    revocableClientId: revocable.client.id,
    userId: user.id,
    familyId,
    retiringKid: async () => (await app.keyStore.all()).find((k) => k.status === 'retiring')!.kid,
  }
}

t.test('every admin route: 401 without a token, 403 without stamp:admin, 2xx for an admin', async (t) => {
  // Three requests per route from one address: more than the default per-IP admin limit.
  const app = await build(t, { env: { RATE_LIMIT_ADMIN_MAX: '1000' } })
  const admin = await createAdmin(app)
  const f = await fixtures(app)
  // A real Stamp token, validly signed, but without the admin scope.
  const plain = await createClient(app, { scopes: ['read'], audiences: [] })
  const plainToken = (await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: plain.basic })).json().access_token

  const documented = Object.entries((app.swagger() as { paths: Record<string, object> }).paths)
    .filter(([path]) => path.startsWith('/admin'))
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort()
  t.strictSame(rows.map((r) => `${r.method} ${r.path}`).sort(), documented, 'the table covers every documented admin route')

  for (const row of rows) {
    const url = row.path === '/admin/keys/{kid}/revoke' ? `/admin/keys/${await f.retiringKid()}/revoke` : row.url(f)
    const payload = row.body?.(f)
    const send = (authorization?: string) => app.inject({ method: row.method, url, payload, headers: authorization ? { authorization } : {} })

    const anonymous = await send()
    t.equal(anonymous.statusCode, 401, `${row.method} ${row.path} without a token`)
    t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="stamp"')
    t.equal(anonymous.json().error, 'invalid_token')

    const forbidden = await send(`Bearer ${plainToken}`)
    t.equal(forbidden.statusCode, 403, `${row.method} ${row.path} without stamp:admin`)
    t.equal(forbidden.json().error, 'insufficient_scope')
    t.match(forbidden.headers['www-authenticate'], /error="insufficient_scope".*scope="stamp:admin"/)

    const allowed = await send(admin.authorization)
    t.equal(allowed.statusCode, row.status, `${row.method} ${row.path} as admin: ${allowed.body.slice(0, 200)}`)
    t.equal(allowed.headers['cache-control'], 'no-store')
  }
  const afterRevoke = await app.inject({ method: 'GET', url: '/admin/keys', headers: { authorization: admin.authorization } })
  t.equal(afterRevoke.statusCode, 401, 'tokens signed by the revoked key no longer open the admin API')

  const events = (await app.auditStore.list({ limit: 100 })).filter((e) => e.actor === admin.user.id).map((e) => e.type)
  for (const type of ['client_created', 'client_updated', 'client_secret_rotated', 'client_deleted', 'user_created', 'user_updated',
    'user_password_reset', 'user_signed_out_everywhere', 'refresh_family_revoked', 'key_rotated', 'key_revoked']) {
    t.ok(events.includes(type), `audit trail has ${type} with the acting admin's sub`)
  }
})

t.test('tokens that must not open the admin API', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const get = (authorization: string) => app.inject({ method: 'GET', url: '/admin/keys', headers: { authorization } })

  t.equal((await get(admin.authorization)).statusCode, 200, 'the real admin token works')

  // A refresh token of the admin (typ rt+jwt) is not an access token.
  const viaRefresh = await get(`Bearer ${admin.refreshToken}`)
  t.equal(viaRefresh.statusCode, 401)
  t.match(viaRefresh.headers['www-authenticate'], /error="invalid_token"/)

  // Same claims, signed by a key Stamp never published.
  const { privateKey } = await generateKeyPair('RS256')
  const claims = JSON.parse(Buffer.from(admin.accessToken.split('.')[1], 'base64url').toString())
  const header = JSON.parse(Buffer.from(admin.accessToken.split('.')[0], 'base64url').toString())
  const forged = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey)
  t.equal((await get(`Bearer ${forged}`)).statusCode, 401, 'foreign signature')

  // alg=none and a tampered payload.
  const none = `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${admin.accessToken.split('.')[1]}.`
  t.equal((await get(`Bearer ${none}`)).statusCode, 401, 'alg none')
  const tampered = admin.accessToken.split('.')
  tampered[1] = Buffer.from(JSON.stringify({ ...claims, scope: 'stamp:admin other' })).toString('base64url')
  t.equal((await get(`Bearer ${tampered.join('.')}`)).statusCode, 401, 'tampered payload')

  // An admin token minted for another audience (an API), not for Stamp itself.
  const otherAudience = await app.minter.accessToken({ sub: admin.user.id, clientId: admin.console.client.id, scope: 'stamp:admin', audience: ['https://api.example.com'] })
  t.equal((await get(`Bearer ${otherAudience}`)).statusCode, 401, 'wrong audience')

  // Expired.
  const expired = await app.minter.accessToken({ sub: admin.user.id, clientId: admin.console.client.id, scope: 'stamp:admin', audience: [app.config.issuer] }, Date.now() - 3_600_000)
  t.equal((await get(`Bearer ${expired}`)).statusCode, 401, 'expired')

  // Malformed headers are invalid_request.
  t.equal((await get('Basic abc')).statusCode, 400)
  t.equal((await get('Bearer')).statusCode, 400)

  // Disabling the admin takes effect at once, although the token is still within its lifetime.
  await app.usersRepository.update(admin.user.id, { disabled: true })
  const disabled = await get(admin.authorization)
  t.equal(disabled.statusCode, 401, 'a disabled admin is refused at once')
})

t.test('a client_credentials token of a client holding stamp:admin is an admin (automation)', async (t) => {
  const app = await build(t)
  const robot = await createClient(app, { scopes: ['stamp:admin'], audiences: [] })
  const token = (await postForm(app, '/token', { grant_type: 'client_credentials', scope: 'stamp:admin' }, { authorization: robot.basic })).json().access_token
  const res = await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  await app.clientStore.update(robot.client.id, { scopes: [] })
  app.clientCache.forget(robot.client.id)
  t.equal((await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: `Bearer ${token}` } })).statusCode, 401, 'scope withdrawn from the client')
})
