import t from 'tap'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields } from '../../fixtures/browser.js'
import { totp } from '../../../src/domain/totp.js'

const CB = 'https://app.example/cb'
const app = await build(t, { env: { PASSWORD_MIN_LENGTH: '15' } })
const client = await createClient(app, { name: 'Shop', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
const gil = await createUser(app, 'gil', 'gils first passphrase')

/** The csrf token of the account page. */
const csrfOf = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)![1]

async function signedInBrowser () {
  const browser = new Browser(app)
  const first = await browser.follow(`${ISSUER}/account`)
  t.match(first.res.body, /to continue to <strong>your account<\/strong>/, 'the account page starts with the hosted sign-in')
  const page = await browser.signIn(first.res, 'gil', gil.password)
  t.equal(page.res.statusCode, 200)
  t.match(page.res.body, /<h1>Your account<\/h1>/)
  return { browser, page: page.res }
}

t.test('signed out: to the sign-in and back', async (t) => {
  const res = await app.inject({ url: '/account' })
  t.equal(res.statusCode, 303)
  t.match(res.headers.location, /\/login\?request=/)
})

t.test('sessions and apps: listed, and each can be ended or revoked', async (t) => {
  const { browser } = await signedInBrowser()
  // An app with a consent and a refresh family.
  const auth = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid offline_access' }))
  const allowed = await browser.follow(`${ISSUER}/consent`, { ...hiddenFields(auth.res.body), decision: 'allow' })
  const code = allowed.location!.searchParams.get('code')!
  const tokens = await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB }, { authorization: client.basic })
  t.equal(tokens.statusCode, 200)
  const other = await signedInBrowser()

  const account = await browser.follow(`${ISSUER}/account`)
  t.match(account.res.body, /this browser/)
  t.match(account.res.body, /id="families">[\s\S]*Shop/)
  t.match(account.res.body, /id="consents">[\s\S]*Shop/)
  const csrf = csrfOf(account.res.body)

  const noCsrf = await browser.post(`${ISSUER}/account/families/revoke`, { family: 'x' })
  t.equal(noCsrf.statusCode, 403, 'no CSRF token: refused')

  const family = /name="family" value="([^"]+)"/.exec(account.res.body)![1]
  const revoked = await browser.post(`${ISSUER}/account/families/revoke`, { csrf, family })
  t.equal(revoked.headers.location, `${ISSUER}/account?done=family_revoked`)
  t.equal((await app.refreshTokens.findFamily(family, new Date()))!.active, false)

  const withdrawn = await browser.post(`${ISSUER}/account/consents/withdraw`, { csrf, client: client.client.id })
  t.equal(withdrawn.statusCode, 303)
  t.same(await app.consents.granted(gil.user.id, client.client.id), [])

  const sessions = await app.sessions.listActiveForUser(gil.user.id, { limit: 10 }, new Date())
  const before = sessions.length
  const current = await app.sso.currentSession(other.browser.cookies.get('stamp_session'))
  const ended = await browser.post(`${ISSUER}/account/sessions/end`, { csrf, sid: current!.session.id })
  t.equal(ended.headers.location, `${ISSUER}/account?done=session_ended`)
  t.equal((await app.sessions.listActiveForUser(gil.user.id, { limit: 10 }, new Date())).length, before - 1, 'the other browser is signed out')
  t.equal(await app.sso.currentSession(other.browser.cookies.get('stamp_session')), null)
  const events = (await app.auditStore.list({ limit: 20 })).map((e) => e.type)
  t.ok(events.includes('refresh_family_revoked') && events.includes('consent_revoked') && events.includes('session_ended'))
})

t.test('change the password: the current one is required, the policy applies, other sessions end', async (t) => {
  const { browser, page } = await signedInBrowser()
  const other = await signedInBrowser()
  const csrf = csrfOf(page.body)
  t.match(page.body, /At least 15 characters/)
  const wrong = await browser.post(`${ISSUER}/account/password`, { csrf, current_password: 'nope', new_password: 'a brand new passphrase' })
  t.equal(wrong.statusCode, 400)
  t.match(wrong.body, /current password is not right/)
  const short = await browser.post(`${ISSUER}/account/password`, { csrf, current_password: gil.password, new_password: 'short but ok1' })
  t.equal(short.statusCode, 400)
  t.match(short.body, /at least 15 characters/)
  const ok = await browser.post(`${ISSUER}/account/password`, { csrf, current_password: gil.password, new_password: 'gils second passphrase' })
  t.equal(ok.headers.location, `${ISSUER}/account?done=password`)
  gil.password = 'gils second passphrase'
  t.equal(await app.sso.currentSession(other.browser.cookies.get('stamp_session')), null, 'the other session ended')
  t.ok(await app.sso.currentSession(browser.cookies.get('stamp_session')), 'this one goes on')
})

t.test('authenticator app and recovery codes from the account page; a stale sign-in must sign in again', async (t) => {
  const { browser } = await signedInBrowser()
  const enrol = await browser.follow(`${ISSUER}/account/totp`)
  t.match(enrol.res.body, /Set up an authenticator app/)
  const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(enrol.res.body)![1].replace(/ /g, '')
  const codes = await browser.post(`${ISSUER}/account/totp`, { ...hiddenFields(enrol.res.body), code: totp(secret, Date.now()) })
  t.equal(codes.statusCode, 200)
  t.equal([...codes.body.matchAll(/<li>[a-z2-7]{5}-[a-z2-7]{5}<\/li>/g)].length, 10)
  const summary = await app.secondFactors.summary(gil.user.id)
  t.ok(summary.totp)
  t.equal(summary.recoveryCodesLeft, 10)

  const account = await browser.follow(`${ISSUER}/account`)
  t.match(account.res.body, /At least 8 characters/, 'with a second factor the shorter minimum applies')
  const csrf = csrfOf(account.res.body)
  const again = await browser.post(`${ISSUER}/account/recovery-codes`, { csrf })
  t.equal(again.statusCode, 200)
  const fresh = [...again.body.matchAll(/<li>([a-z2-7]{5}-[a-z2-7]{5})<\/li>/g)].map((m) => m[1])
  t.equal(fresh.length, 10)
  t.notOk(await app.secondFactors.useRecoveryCode(gil.user.id, [...codes.body.matchAll(/<li>([a-z2-7]{5}-[a-z2-7]{5})<\/li>/g)][0][1]), 'the old codes stopped working')

  // Five minutes later a sensitive change sends the user through the sign-in again.
  await app.prisma.session.updateMany({ where: { userId: gil.user.id }, data: { authTime: new Date(Date.now() - 10 * 60_000) } })
  const stale = await browser.post(`${ISSUER}/account/totp/remove`, { csrf })
  t.equal(stale.statusCode, 303)
  t.match(stale.headers.location, /\/login\?request=/)
  t.ok((await app.secondFactors.summary(gil.user.id)).totp, 'nothing removed')

  const events = (await app.auditStore.list({ limit: 50 })).map((e) => e.type)
  t.ok(events.includes('totp_enrolled'))
  t.ok(events.includes('recovery_codes_generated'))
})
