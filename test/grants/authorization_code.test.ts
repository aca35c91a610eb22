import t from 'tap'
import { build, createClient, createUser, postForm } from '../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../fixtures/browser.js'
import { hashCode } from '../../src/domain/sso.js'

const CB = 'https://app.example/cb'
const app = await build(t)
const client = await createClient(app, { name: 'App', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
const spa = await createClient(app, { name: 'SPA', public: true, firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
const other = await createClient(app, { name: 'Other', grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
const bob = await createUser(app, 'bob')
const browser = new Browser(app)
{
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code' }))
  await browser.signIn(page.res, 'bob', bob.password)
}

/** A fresh code for `c` from the signed-in browser. */
async function codeFor (c = client, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce()
  const res = await browser.follow(authorizeURL({ client_id: c.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256', ...extra }))
  const code = res.location?.searchParams.get('code')
  if (!code) throw new Error(`no code: ${res.res.statusCode} ${res.res.body}`)
  return { code, verifier }
}

function exchange (form: Record<string, string>, c = client) {
  return postForm(app, '/token', { grant_type: 'authorization_code', redirect_uri: CB, ...form }, c.basic && c.secret ? { authorization: c.basic } : {})
}

t.test('the code is stored hashed, bound to the client, 60 s lifetime', async (t) => {
  const { code } = await codeFor()
  const row = await app.authorizationCodes.find(hashCode(code))
  t.ok(row)
  t.equal(row!.clientId, client.client.id)
  t.equal(row!.redirectUri, CB)
  t.equal(row!.codeChallengeMethod, 'S256')
  t.ok(Math.abs(row!.expiresAt.getTime() - Date.now() - 60_000) < 5_000)
  t.notOk(await app.authorizationCodes.find(code), 'the raw code is not a key')
})

t.test('wrong PKCE verifier → invalid_grant', async (t) => {
  const { code } = await codeFor()
  const res = await exchange({ code, code_verifier: pkce().verifier })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_grant')
  const missing = await exchange({ code: (await codeFor()).code })
  t.equal(missing.json().error, 'invalid_grant', 'missing verifier')
})

t.test('verifier without a challenge is refused (PKCE downgrade)', async (t) => {
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const code = page.location!.searchParams.get('code')!
  const res = await exchange({ code, code_verifier: pkce().verifier })
  t.equal(res.json().error, 'invalid_grant')
})

t.test('redirect_uri must match', async (t) => {
  const { code, verifier } = await codeFor()
  const res = await exchange({ code, code_verifier: verifier, redirect_uri: 'https://app.example/other' })
  t.equal(res.json().error, 'invalid_grant')
})

t.test('another client cannot redeem (or burn) the code', async (t) => {
  const { code, verifier } = await codeFor()
  const res = await exchange({ code, code_verifier: verifier }, other)
  t.equal(res.json().error, 'invalid_grant')
  const ok = await exchange({ code, code_verifier: verifier })
  t.equal(ok.statusCode, 200, 'the right client can still use it')
})

t.test('code reuse fails and revokes the refresh family issued from it', async (t) => {
  const { code, verifier } = await codeFor()
  const first = await exchange({ code, code_verifier: verifier })
  t.equal(first.statusCode, 200)
  const { refresh_token: refreshToken } = first.json()
  t.ok(refreshToken)
  const second = await exchange({ code, code_verifier: verifier })
  t.equal(second.statusCode, 400)
  t.equal(second.json().error, 'invalid_grant')
  t.match(second.json().error_description, /already used/)
  const refresh = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: client.basic })
  t.equal(refresh.statusCode, 400, 'refresh token from the replayed code is revoked')
  t.match(refresh.json().error_description, /revoked/)
})

t.test('concurrent exchanges: exactly one wins, and the family ends up revoked', async (t) => {
  const { code, verifier } = await codeFor()
  const results = await Promise.all([exchange({ code, code_verifier: verifier }), exchange({ code, code_verifier: verifier })])
  const ok = results.filter((r) => r.statusCode === 200)
  t.ok(ok.length <= 1, 'at most one succeeds')
  const row = await app.authorizationCodes.find(hashCode(code))
  const live = await app.prisma.refreshToken.count({ where: { familyId: row!.familyId, revokedAt: null } })
  t.equal(live, 0, 'no live refresh token remains from a replayed code')
})

t.test('expired code → invalid_grant', async (t) => {
  const { code, verifier } = await codeFor()
  await app.prisma.authorizationCode.update({ where: { codeHash: hashCode(code) }, data: { expiresAt: new Date(Date.now() - 1000) } })
  const res = await exchange({ code, code_verifier: verifier })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_grant')
  t.match(res.json().error_description, /expired/)
})

t.test('public client: PKCE only, refresh only with offline_access', async (t) => {
  const { code, verifier } = await codeFor(spa)
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', redirect_uri: CB, client_id: spa.client.id, code, code_verifier: verifier })
  t.equal(res.statusCode, 200, res.body)
  t.ok(res.json().refresh_token, 'offline_access granted → refresh token')
  t.ok(res.json().id_token)
  const noOffline = await codeFor(spa, { scope: 'openid' })
  const res2 = await postForm(app, '/token', { grant_type: 'authorization_code', redirect_uri: CB, client_id: spa.client.id, code: noOffline.code, code_verifier: noOffline.verifier })
  t.notOk(res2.json().refresh_token, 'no offline_access and no refresh_token grant → no refresh token')
})

t.test('unknown code → invalid_grant; missing code → invalid_request', async (t) => {
  t.equal((await exchange({ code: 'nope' })).json().error, 'invalid_grant')
  t.equal((await exchange({})).json().error, 'invalid_request')
})

t.test('the refresh token keeps the session binding', async (t) => {
  const { code, verifier } = await codeFor()
  const tokens = (await exchange({ code, code_verifier: verifier })).json()
  const refreshed = (await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: client.basic })).json()
  const row = await app.authorizationCodes.find(hashCode(code))
  const rows = await app.prisma.refreshToken.findMany({ where: { familyId: row!.familyId } })
  t.equal(rows.length, 2)
  t.ok(rows.every((r) => r.sessionId === row!.sessionId), 'rotated tokens stay bound to the session')
  t.ok(refreshed.access_token)
  t.equal(ISSUER, 'http://stamp.test')
})

// issue 11 item 1: nothing is consumed before the client, expiry, redirect_uri and PKCE checks pass.
t.test('a wrong PKCE verifier does not burn the code', async (t) => {
  const { code, verifier } = await codeFor()
  t.equal((await exchange({ code, code_verifier: pkce().verifier })).json().error, 'invalid_grant')
  t.equal((await exchange({ code })).json().error, 'invalid_grant', 'missing verifier')
  const ok = await exchange({ code, code_verifier: verifier })
  t.equal(ok.statusCode, 200, ok.body)
})

t.test('a wrong redirect_uri does not burn the code', async (t) => {
  const { code, verifier } = await codeFor()
  t.equal((await exchange({ code, code_verifier: verifier, redirect_uri: 'https://app.example/other' })).json().error, 'invalid_grant')
  const ok = await exchange({ code, code_verifier: verifier })
  t.equal(ok.statusCode, 200, ok.body)
})

t.test('public client: a replay without the verifier is refused and revokes nothing', async (t) => {
  const { code, verifier } = await codeFor(spa)
  const form = { grant_type: 'authorization_code', redirect_uri: CB, client_id: spa.client.id, code }
  const first = await postForm(app, '/token', { ...form, code_verifier: verifier })
  t.equal(first.statusCode, 200, first.body)
  const row = await app.authorizationCodes.find(hashCode(code))
  for (const attempt of [{}, { code_verifier: pkce().verifier }] as Array<Record<string, string>>) {
    const replay = await postForm(app, '/token', { ...form, ...attempt })
    t.equal(replay.statusCode, 400)
    t.equal(replay.json().error, 'invalid_grant')
  }
  t.equal(await app.prisma.refreshToken.count({ where: { familyId: row!.familyId, revokedAt: null } }), 1, 'the real client keeps its family')
  t.equal(row!.reusedAt, null)
  t.equal((await app.authorizationCodes.find(hashCode(code)))!.reusedAt, null, 'not recorded as a replay')
})

t.test('public client: a replay with the matching verifier proves possession and revokes the family', async (t) => {
  const { code, verifier } = await codeFor(spa)
  const form = { grant_type: 'authorization_code', redirect_uri: CB, client_id: spa.client.id, code, code_verifier: verifier }
  const first = await postForm(app, '/token', form)
  t.equal(first.statusCode, 200, first.body)
  const replay = await postForm(app, '/token', form)
  t.equal(replay.json().error, 'invalid_grant')
  t.match(replay.json().error_description, /already used/)
  const row = await app.authorizationCodes.find(hashCode(code))
  t.equal(await app.prisma.refreshToken.count({ where: { familyId: row!.familyId, revokedAt: null } }), 0, 'family revoked')
  t.ok(row!.reusedAt)
})

t.test('confidential client: an authenticated replay revokes even without the verifier', async (t) => {
  const { code, verifier } = await codeFor()
  t.equal((await exchange({ code, code_verifier: verifier })).statusCode, 200)
  const replay = await exchange({ code })
  t.match(replay.json().error_description, /already used/)
  const row = await app.authorizationCodes.find(hashCode(code))
  t.equal(await app.prisma.refreshToken.count({ where: { familyId: row!.familyId, revokedAt: null } }), 0, 'family revoked')
})

t.test('an expired code is refused without being consumed', async (t) => {
  const { code, verifier } = await codeFor()
  await app.prisma.authorizationCode.update({ where: { codeHash: hashCode(code) }, data: { expiresAt: new Date(Date.now() - 1000) } })
  t.match((await exchange({ code, code_verifier: verifier })).json().error_description, /expired/)
  t.equal((await app.authorizationCodes.find(hashCode(code)))!.consumedAt, null)
})

// issue 11 item 16, RFC 6749 §4.1.3: redirect_uri is "REQUIRED, if the "redirect_uri" parameter was
// included in the authorization request", and then identical.
t.test('redirect_uri at /token only when it was sent to /authorize', async (t) => {
  const { verifier, challenge } = pkce()
  const res = await browser.follow(authorizeURL({ client_id: client.client.id, response_type: 'code', scope: 'offline_access', code_challenge: challenge, code_challenge_method: 'S256' }))
  const code = res.location!.searchParams.get('code')!
  t.ok(code, 'one registered redirect URI: redirect_uri may be omitted')
  const other = await postForm(app, '/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'https://app.example/other' }, { authorization: client.basic })
  t.equal(other.json().error, 'invalid_grant', 'a different one is still refused')
  const ok = await postForm(app, '/token', { grant_type: 'authorization_code', code, code_verifier: verifier }, { authorization: client.basic })
  t.equal(ok.statusCode, 200, ok.body.slice(0, 200))

  const sent = await codeFor()
  const missing = await postForm(app, '/token', { grant_type: 'authorization_code', code: sent.code, code_verifier: sent.verifier }, { authorization: client.basic })
  t.equal(missing.json().error, 'invalid_grant', 'sent to /authorize → required at /token')
  t.match(missing.json().error_description, /redirect_uri/)
})

t.test('redirect_uri omitted at /authorize survives the sign-in page (parked request)', async (t) => {
  const fresh = new Browser(app)
  const { verifier, challenge } = pkce()
  const page = await fresh.follow(authorizeURL({ client_id: client.client.id, response_type: 'code', scope: 'offline_access', code_challenge: challenge, code_challenge_method: 'S256' }))
  const done = await fresh.signIn(page.res, 'bob', bob.password)
  const code = done.location!.searchParams.get('code')!
  t.equal((await app.authorizationCodes.find(hashCode(code)))!.redirectUriSent, false)
  const ok = await postForm(app, '/token', { grant_type: 'authorization_code', code, code_verifier: verifier }, { authorization: client.basic })
  t.equal(ok.statusCode, 200, ok.body.slice(0, 200))
})
