/**
 * Issue 11 item 3: ending a session ends everything it started. A code issued just before a
 * logout, a sign-out-everywhere or a password reset is not redeemable, a refresh token of an
 * ended session is refused, and no refresh family of an ended session stays live, also when the
 * exchange or a rotation races the logout (either way round).
 */
import t, { type Test } from 'tap'
import pg from 'pg'
import { build, createAdmin, createClient, createTestDatabase, createUser, postForm, testConfig } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../../fixtures/browser.js'
import { hashCode } from '../../../src/domain/sso.js'
import { exchangeRefreshToken } from '../../../src/storage/prisma/refresh_tokens.js'
import { USER_BASELINE_SCOPES } from '../../../src/domain/scopes.js'
import { randomUUID } from 'node:crypto'

const CB = 'https://app.example/cb'
const url = await createTestDatabase(t)
const app = await build(t, { databaseUrl: url, config: testConfig(url) })
const client = await createClient(app, { name: 'App', firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
const admin = await createAdmin(app)

async function signedIn () {
  const { user, username, password } = await createUser(app)
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const done = await browser.signIn(page.res, username, password)
  if (!done.location?.searchParams.get('code')) throw new Error('sign-in failed')
  return { browser, user }
}

async function codeFrom (browser: Browser) {
  const { verifier, challenge } = pkce()
  const res = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256' }))
  const code = res.location?.searchParams.get('code')
  if (!code) throw new Error('no code')
  return { code, verifier }
}

const exchange = (code: string, verifier: string) =>
  postForm(app, '/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: CB }, { authorization: client.basic })

const enders: Record<string, (ctx: { browser: Browser, user: { id: string } }) => Promise<void>> = {
  'RP-initiated logout': async ({ browser }) => {
    const page = await browser.get(`${ISSUER}/logout`)
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]
    const res = await browser.post(`${ISSUER}/logout`, { csrf })
    if (res.statusCode !== 200) throw new Error(`logout: ${res.statusCode}`)
  },
  'sign out everywhere': async ({ user }) => {
    const res = await app.inject({ method: 'POST', url: `/admin/users/${user.id}/sign-out`, headers: { authorization: admin.authorization } })
    if (res.statusCode !== 200) throw new Error(`sign-out: ${res.body}`)
  },
  'password reset': async ({ user }) => {
    const res = await app.inject({ method: 'POST', url: `/admin/users/${user.id}/password`, headers: { authorization: admin.authorization }, payload: { password: 'a brand new passphrase 7' } })
    if (res.statusCode !== 200) throw new Error(`reset: ${res.body}`)
  },
}

for (const [name, end] of Object.entries(enders)) {
  t.test(`a code issued just before ${name} cannot be redeemed`, async (t) => {
    const ctx = await signedIn()
    const { code, verifier } = await codeFrom(ctx.browser)
    await end(ctx)
    const res = await exchange(code, verifier)
    t.equal(res.statusCode, 400, 'refused')
    t.equal(res.json().error, 'invalid_grant')
    t.equal(res.headers['cache-control'], 'no-store')
    const row = await app.authorizationCodes.find(hashCode(code))
    t.equal(await app.prisma.refreshToken.count({ where: { familyId: row!.familyId, revokedAt: null } }), 0, 'no live family')
  })
}

t.test('an exchange racing the logout: the family it stores is revoked', async (t) => {
  const ctx = await signedIn()
  const { code, verifier } = await codeFrom(ctx.browser)
  const sid = (await app.authorizationCodes.find(hashCode(code)))!.sessionId
  // Play the logout transaction by hand: session ended and its families revoked, not yet committed.
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  await db.query('BEGIN')
  await db.query('UPDATE sessions SET ended_at = now() WHERE id = $1', [sid])
  await db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family_id IN (SELECT family_id FROM refresh_tokens WHERE session_id = $1)', [sid])
  const pending = exchange(code, verifier)
  await new Promise((resolve) => setTimeout(resolve, 400))
  await db.query('COMMIT')
  const res = await pending
  const row = await app.authorizationCodes.find(hashCode(code))
  t.equal(await app.prisma.refreshToken.count({ where: { familyId: row!.familyId, revokedAt: null } }), 0, 'no live family in the ended session')
  t.equal(res.statusCode, 400, 'the exchange is refused')
})

/** The refresh statement itself, run on `db` (inside the caller's transaction when one is open). */
const rotate = (db: pg.Client, token: { jti: string, scope: string, userId: string | null, sessionId: string | null }) => exchangeRefreshToken(db, {
  jti: token.jti, clientId: client.client.id, now: new Date(), familyMaxAge: 30 * 86_400, userBaselineScopes: USER_BASELINE_SCOPES, firstParty: true,
  // The grant's hints from the token's claims, so the race runs through the statement a refresh tries first.
  presented: { scope: token.scope, subject: token.userId!, sessionId: token.sessionId ?? undefined },
  successor: { jti: randomUUID(), kid: 'k', expiresAt: new Date((Math.floor(Date.now() / 1000) + 3600) * 1000) },
})

async function familyOf (t: Test) {
  const ctx = await signedIn()
  const { code, verifier } = await codeFrom(ctx.browser)
  const tokens = (await exchange(code, verifier)).json()
  t.ok(tokens.refresh_token)
  const row = (await app.authorizationCodes.find(hashCode(code)))!
  const [token] = await app.prisma.refreshToken.findMany({ where: { familyId: row.familyId } })
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  return { ...ctx, sessionId: row.sessionId, familyId: row.familyId, token, refreshToken: tokens.refresh_token as string, db }
}

t.test('a rotation racing the logout: the logout waits for it and revokes its successor', async (t) => {
  const { sessionId, familyId, token, db } = await familyOf(t)
  // The refresh statement, committed only after the logout started.
  await db.query('BEGIN')
  t.equal((await rotate(db, token))?.rotated, true)
  const ending = app.sso.logout(sessionId)
  await new Promise((resolve) => setTimeout(resolve, 300))
  await db.query('COMMIT')
  t.equal(await ending, true)
  const live = await app.prisma.refreshToken.findMany({ where: { familyId, revokedAt: null } })
  t.same(live.map((r) => r.jti), [], 'the successor is revoked too')
})

t.test('a rotation starting during the logout waits for it and is refused', async (t) => {
  const { sessionId, familyId, token, db } = await familyOf(t)
  // The logout's transaction by hand: session locked and ended, its families revoked, not yet committed.
  await db.query('BEGIN')
  await db.query('SELECT id FROM sessions WHERE id = $1 FOR UPDATE', [sessionId])
  await db.query('UPDATE sessions SET ended_at = now() WHERE id = $1', [sessionId])
  await db.query('UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family_id IN (SELECT family_id FROM refresh_tokens WHERE session_id = $1)', [sessionId])
  const other = new pg.Client({ connectionString: url })
  await other.connect()
  t.teardown(() => other.end())
  const pending = rotate(other, token)
  await new Promise((resolve) => setTimeout(resolve, 300))
  await db.query('COMMIT')
  const result = await pending
  t.equal(result?.rotated, false, 'nothing rotated')
  t.equal(result?.sessionActive, false, 'the statement saw the session ended')
  t.equal(await app.prisma.refreshToken.count({ where: { familyId, revokedAt: null } }), 0, 'no live token in the family')
})

t.test('a refresh token of an ended session is refused, even when its family was not revoked', async (t) => {
  const { sessionId, familyId, refreshToken, db } = await familyOf(t)
  // Ended behind the session store's back (as by an older release, or a restore): no revocation ran.
  await db.query('UPDATE sessions SET ended_at = now() WHERE id = $1', [sessionId])
  const res = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: client.basic })
  t.equal(res.statusCode, 400)
  t.same(res.json(), { error: 'invalid_grant', error_description: 'the session this refresh token was issued in has ended' })
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(await app.prisma.refreshToken.count({ where: { familyId, revokedAt: null } }), 0, 'the family is revoked')
})
