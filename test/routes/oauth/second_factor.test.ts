import t from 'tap'
import { decodeJwt } from 'jose'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields } from '../../fixtures/browser.js'
import { totp } from '../../../src/domain/totp.js'
import { ACR_MULTI_FACTOR } from '../../../src/domain/authentication_methods.js'
import { csrfToken } from '../../../src/domain/browser_secrets.js'
import { parameterLimit } from '../../../src/domain/parameter_limits.js'
import { BROWSER_COOKIE } from '../../../src/routes/oauth/browser.js'

const CB = 'https://app.example/cb'
const app = await build(t)
const client = await createClient(app, { name: 'App', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
const strict = await createClient(app, { name: 'Strict', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'], requireMfa: true })

/** Enrols TOTP for a user through the service, as the account page does; returns the secret. */
async function enrolTOTP (user: { id: string, username: string }) {
  const enrolment = await app.secondFactors.beginTOTP(user)
  if (!enrolment) throw new Error('already enrolled')
  if (!await app.secondFactors.confirmTOTP(user.id, totp(enrolment.secret, Date.now()))) throw new Error('confirmation refused')
  return enrolment.secret
}

async function idTokenFrom (location: URL, c = client) {
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: CB }, { authorization: c.basic })
  if (res.statusCode !== 200) throw new Error(res.body)
  return decodeJwt(res.json().id_token)
}

const submitFactor = (browser: Browser, page: { body: string }, form: Record<string, string>) =>
  browser.follow(`${ISSUER}/login/factor`, { ...hiddenFields(page.body), ...form })

t.test('TOTP as the second factor: a code works, the same code again does not, a recovery code works once', async (t) => {
  const dana = await createUser(app, 'dana')
  const secret = await enrolTOTP(dana.user)
  const codes = await app.secondFactors.regenerateRecoveryCodes(dana.user.id)

  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor = await browser.signIn(start.res, 'dana', dana.password)
  t.notOk(factor.location, 'no code after the password alone')
  t.match(factor.res.body, /autocomplete="one-time-code"/)
  t.match(factor.res.body, /Use a recovery code/)

  // The confirmation used the current step: the next step's code (within ±1) signs in.
  const code = totp(secret, Date.now() + 30_000)
  const wrong = await submitFactor(browser, factor.res, { method: 'totp', code: code === '000000' ? '111111' : '000000' })
  t.equal(wrong.res.statusCode, 401)
  const done = await submitFactor(browser, wrong.res, { method: 'totp', code })
  t.ok(done.location?.searchParams.get('code'), 'signed in')
  const id = await idTokenFrom(done.location!)
  t.same(id.amr, ['pwd', 'otp', 'mfa'])
  t.equal(id.acr, ACR_MULTI_FACTOR)

  // A second browser replays the same code within its window: refused.
  const other = new Browser(app)
  const again = await other.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor2 = await other.signIn(again.res, 'dana', dana.password)
  const replay = await submitFactor(other, factor2.res, { method: 'totp', code })
  t.equal(replay.res.statusCode, 401, 'a code already used is refused')
  t.match(replay.res.body, /already used/)

  const recovered = await submitFactor(other, replay.res, { method: 'recovery', code: codes[3].toUpperCase() })
  t.ok(recovered.location?.searchParams.get('code'), 'a recovery code signs in')
  t.equal((await app.secondFactors.summary(dana.user.id)).recoveryCodesLeft, 9)

  const third = new Browser(app)
  const start3 = await third.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor3 = await third.signIn(start3.res, 'dana', dana.password)
  const reused = await submitFactor(third, factor3.res, { method: 'recovery', code: codes[3] })
  t.equal(reused.res.statusCode, 401, 'the recovery code works once')
  const events = (await app.auditStore.list({ limit: 50 })).map((e) => e.type)
  t.ok(events.includes('recovery_code_used'))
  t.ok(events.includes('second_factor_failed'))
})

t.test('MFA required by the client: a user without a factor enrols at sign-in and sees recovery codes', async (t) => {
  const erik = await createUser(app, 'erik')
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: strict.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const enrol = await browser.signIn(start.res, 'erik', erik.password)
  t.notOk(enrol.location)
  t.match(enrol.res.body, /Set up an authenticator app/)
  t.match(enrol.res.body, /<img class="qr" src="data:image\/svg\+xml;base64,/)
  const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(enrol.res.body)![1].replace(/ /g, '')
  const bad = await browser.follow(`${ISSUER}/login/enrol`, { ...hiddenFields(enrol.res.body), code: '12345' })
  t.equal(bad.res.statusCode, 400)
  const codes = await browser.follow(`${ISSUER}/login/enrol`, { ...hiddenFields(bad.res.body), code: totp(secret, Date.now()) })
  t.equal(codes.res.statusCode, 200)
  const shown = [...codes.res.body.matchAll(/<li>([a-z2-7]{5}-[a-z2-7]{5})<\/li>/g)].map((m) => m[1])
  t.equal(shown.length, 10, 'ten recovery codes shown')
  const done = await browser.follow(`${ISSUER}/login/continue`, hiddenFields(codes.res.body))
  t.ok(done.location?.searchParams.get('code'))
  const id = await idTokenFrom(done.location!, strict)
  t.same(id.amr, ['pwd', 'otp', 'mfa'])
  const summary = await app.secondFactors.summary(erik.user.id)
  t.ok(summary.totp)
  t.equal(summary.recoveryCodesLeft, 10)
})

t.test('step-up: acr_values asking for MFA re-prompts a password-only session for the second factor', async (t) => {
  const fay = await createUser(app, 'fay')
  const secret = await enrolTOTP(fay.user)
  const [recovery] = await app.secondFactors.regenerateRecoveryCodes(fay.user.id)
  const browser = new Browser(app)
  // MFA optional and a factor enrolled: both are asked (a recovery code here, keeping TOTP's next step unused).
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor = await browser.signIn(start.res, 'fay', fay.password)
  const first = await submitFactor(browser, factor.res, { method: 'recovery', code: recovery })
  t.ok(first.location)
  // Make the session single-factor, as one from before the factor was enrolled.
  const [session] = await app.sessions.listActiveForUser(fay.user.id, { limit: 1 }, new Date())
  await app.prisma.session.update({ where: { id: session.id }, data: { amr: ['pwd'], acr: 'urn:stamp:acr:sfa' } })

  const plain = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  t.ok(plain.location?.searchParams.get('code'), 'without acr_values the session is enough')
  const none = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', acr_values: ACR_MULTI_FACTOR, prompt: 'none' }))
  t.equal(none.location?.searchParams.get('error'), 'login_required', 'prompt=none cannot step up')
  const stepUp = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', acr_values: ACR_MULTI_FACTOR }))
  t.notOk(stepUp.location)
  t.match(stepUp.res.body, /autocomplete="one-time-code"/, 'asked for the second factor only')
  t.notMatch(stepUp.res.body, /name="password"/)
  const ok = await submitFactor(browser, stepUp.res, { method: 'totp', code: totp(secret, Date.now() + 30_000) })
  t.ok(ok.location?.searchParams.get('code'))
  const id = await idTokenFrom(ok.location!)
  t.equal(id.acr, ACR_MULTI_FACTOR)
  t.same(id.amr, ['pwd', 'otp', 'mfa'])
})

t.test('a user who has a factor cannot enrol another one at sign-in instead of presenting it', async (t) => {
  // Knowing the password must not be enough to swap in an authenticator app of one's own for the
  // passkey the user has (MFA bypass): the enrolment step is only for users without any factor.
  const gus = await createUser(app, 'gus')
  await app.prisma.webAuthnCredential.create({ data: { id: 'gus-key', userId: gus.user.id, publicKey: Buffer.from([0xa5]), name: 'Phone' } })
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor = await browser.signIn(start.res, 'gus', gus.password)
  t.notOk(factor.location, 'the password alone does not sign in')
  const requestId = hiddenFields(factor.res.body).request
  const enrol = await browser.follow(`${ISSUER}/login/enrol?request=${requestId}`)
  t.notMatch(enrol.res.body, /id="totp-secret"/, 'no enrolment offered')
  t.match(enrol.res.body, /Use a passkey/, 'the second-factor page instead')
  const pending = await app.prisma.totpFactor.findUnique({ where: { userId: gus.user.id } })
  t.equal(pending, null, 'no TOTP secret was created')
  // Even with a secret of one's own planted (as the old enrolment page did), the form enrols nothing.
  const planted = await app.secondFactors.beginTOTP(gus.user)
  const posted = await browser.follow(`${ISSUER}/login/enrol`, { ...hiddenFields(factor.res.body), code: totp(planted!.secret, Date.now()) })
  t.notOk(posted.location, 'not signed in')
  t.notMatch(posted.res.body, /id="recovery-codes"/, 'no recovery codes: no session either')
  t.equal((await app.prisma.totpFactor.findUnique({ where: { userId: gus.user.id } }))?.confirmedAt ?? null, null, 'not enrolled')
})

t.test('passkey enrolment at sign-in: options only for a user without a factor, a bad credential back to the page, CSRF checked', async (t) => {
  const hal = await createUser(app, 'hal')
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: strict.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const enrol = await browser.signIn(start.res, 'hal', hal.password)
  t.match(enrol.res.body, /data-passkey="register"/, 'the passkey form')
  t.ok(enrol.res.body.indexOf('enrol-passkey-title') < enrol.res.body.indexOf('enrol-totp-title'), 'offered first')
  const fields = hiddenFields(enrol.res.body)
  const options = await browser.post(`${ISSUER}/login/enrol/passkey/options`, fields)
  t.equal(options.statusCode, 200)
  t.equal(options.headers['cache-control'], 'no-store')
  t.equal(options.json().options.authenticatorSelection.residentKey, 'required')
  const forged = await browser.post(`${ISSUER}/login/enrol/passkey/options`, { ...fields, csrf: 'x' })
  t.equal(forged.statusCode, 403, 'a wrong CSRF token is refused')
  const bad = await browser.follow(`${ISSUER}/login/enrol/passkey`, { ...fields, challenge: options.json().challengeId, credential: '{"id":"nope"}', name: 'Key' })
  t.notOk(bad.location, 'not signed in')
  t.match(bad.res.body, /The passkey could not be added/, 'back on the enrolment page with the error')
  t.equal((await app.secondFactors.summary(hal.user.id)).passkeys.length, 0)

  await app.prisma.webAuthnCredential.create({ data: { id: 'hal-key', userId: hal.user.id, publicKey: Buffer.from([0xa5]), name: 'Phone' } })
  const late = await browser.post(`${ISSUER}/login/enrol/passkey/options`, fields)
  t.equal(late.statusCode, 409, 'no registration options once a factor exists')
  const posted = await browser.post(`${ISSUER}/login/enrol/passkey`, { ...fields, challenge: 'x', credential: '{}', name: 'Key' })
  t.match(posted.headers.location, /\/login\/factor\?request=/, 'sent to present the factor instead')
})

t.test("the passkey form's front (factorForm, accept factor_or_login): the login page's token before the password, the second-factor page's after", async (t) => {
  const kim = await createUser(app, 'kim')
  await enrolTOTP(kim.user)
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const login = hiddenFields(start.res.body)
  const tokenFor = (purpose: 'login' | 'factor') => csrfToken(browser.cookies.get(BROWSER_COOKIE)!, purpose, login.request)
  const passkey = (csrf: string, request = login.request) => browser.post(`${ISSUER}/login/passkey`, { request, csrf, challenge: 'x', credential: 'not json' })

  t.equal((await passkey(tokenFor('factor'))).statusCode, 403, 'before the password: the second-factor token is refused')
  const early = await passkey(tokenFor('login'))
  t.match(early.headers.location, /\/login\?request=.*&error=passkey/, "the login page's token passes; a bad credential goes back to the login page")
  t.equal((await passkey(tokenFor('login'), 'unknown')).statusCode, 400, 'an unknown request: the expired page')
  const long = await browser.post(`${ISSUER}/login/passkey`, { request: login.request, csrf: 'x'.repeat(parameterLimit('csrf') + 1), challenge: 'x', credential: '{}' })
  t.equal(long.statusCode, 400, 'over-long: refused before anything is read')
  t.match(long.body, /csrf/)

  const factor = await browser.signIn(start.res, 'kim', kim.password)
  t.match(factor.res.body, /autocomplete="one-time-code"/, 'the password passed')
  t.equal((await passkey(tokenFor('login'))).statusCode, 403, "after the password: the login page's token is refused")
  const late = await passkey(tokenFor('factor'))
  t.match(late.headers.location, /\/login\/factor\?request=.*&error=passkey/, 'the second-factor token passes; back to the second-factor page')
})

t.test('the same TOTP code posted twice at once (two browsers, and one form twice): exactly one sign-in, one event, the other refused', async (t) => {
  const gus = await createUser(app, 'gus2')
  const secret = await enrolTOTP(gus.user)
  const atFactor = async () => {
    const browser = new Browser(app)
    const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
    return { browser, factor: await browser.signIn(start.res, 'gus2', gus.password) }
  }
  const succeeded = async () => (await app.auditStore.list({ limit: 100, subject: gus.user.id, type: 'login_succeeded' })).filter((e) => e.detail?.via === 'second_factor').length
  const sessions = async () => (await app.sessions.listActiveForUser(gus.user.id, { limit: 100 }, new Date())).length

  const code = totp(secret, Date.now() + 30_000)
  const [a, b] = await Promise.all([atFactor(), atFactor()])
  const results = await Promise.all([submitFactor(a.browser, a.factor.res, { method: 'totp', code }), submitFactor(b.browser, b.factor.res, { method: 'totp', code })])
  t.same(results.map((r) => r.res.statusCode).sort(), [303, 401], 'one signed in, the other refused')
  t.match(results.find((r) => r.res.statusCode === 401)!.res.body, /already used/)
  t.equal(await sessions(), 1, 'one session')
  t.equal(await succeeded(), 1, 'one login_succeeded event')

  // One form submitted twice at once (a double click): completed once. (The window allows no
  // later step for gus now: the current step's code, after the +1 step was used, is refused.)
  const stale = totp(secret, Date.now())
  const c = await atFactor()
  const twice = await Promise.all([submitFactor(c.browser, c.factor.res, { method: 'totp', code: stale }), submitFactor(c.browser, c.factor.res, { method: 'totp', code: stale })])
  t.same(twice.map((r) => r.res.statusCode), [401, 401], 'an earlier step than the last used is refused')
  t.equal(await sessions(), 1)

  const ida = await createUser(app, 'ida2')
  const idaSecret = await enrolTOTP(ida.user)
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor = await browser.signIn(start.res, 'ida2', ida.password)
  const idaCode = totp(idaSecret, Date.now() + 30_000)
  const doubled = await Promise.all([submitFactor(browser, factor.res, { method: 'totp', code: idaCode }), submitFactor(browser, factor.res, { method: 'totp', code: idaCode })])
  t.equal(doubled.filter((r) => r.location?.searchParams.get('code')).length, 1, 'one code issued')
  t.equal((await app.sessions.listActiveForUser(ida.user.id, { limit: 10 }, new Date())).length, 1, 'one session')
})


t.test("the password's success event goes with what follows: with the first-factor mark when a factor is owed, in the sign-in's transaction when not", async (t) => {
  const erin = await createUser(app, 'erin')
  const secret = await enrolTOTP(erin.user)
  const frank = await createUser(app, 'frank')
  const trail = async (subject: string) => (await app.auditStore.list({ limit: 50, subject })).reverse().map((e) => ({ type: e.type, clientId: e.clientId, detail: e.detail }))
  const statements: string[] = []
  const query = app.dbPool.query.bind(app.dbPool)
  app.dbPool.query = ((q: string | { text: string }, ...rest: unknown[]) => {
    statements.push(typeof q === 'string' ? q : q.text)
    return (query as (...a: unknown[]) => unknown)(q, ...rest)
  }) as typeof app.dbPool.query
  t.teardown(() => { app.dbPool.query = query })

  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const factor = await browser.signIn(start.res, 'erin', erin.password)
  t.same(await trail(erin.user.id), [{ type: 'login_succeeded', clientId: client.client.id, detail: { via: 'login_form' } }], 'recorded at the password, before the second factor')
  t.notOk(statements.some((text) => /^INSERT INTO audit_events/.test(text)), 'not by a statement of its own')
  t.ok(statements.some((text) => /INSERT INTO audit_events/.test(text) && /UPDATE authorization_requests SET factor_user_id/.test(text) && /webauthn_credentials/.test(text)), 'with the mark (and the read of the factors that owes it)')
  const done = await submitFactor(browser, factor.res, { method: 'totp', code: totp(secret, Date.now() + 30_000) })
  t.ok(done.location?.searchParams.get('code'), 'signed in')
  t.same(await trail(erin.user.id), [
    { type: 'login_succeeded', clientId: client.client.id, detail: { via: 'login_form' } },
    { type: 'login_succeeded', clientId: client.client.id, detail: { via: 'second_factor', method: 'totp' } },
  ])

  statements.length = 0
  const plain = new Browser(app)
  const start2 = await plain.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const signedIn = await plain.signIn(start2.res, 'frank', frank.password)
  t.ok(signedIn.location?.searchParams.get('code'), 'no factor: signed in at once')
  t.same(await trail(frank.user.id), [{ type: 'login_succeeded', clientId: client.client.id, detail: { via: 'login_form' } }])
  t.notOk(statements.some((text) => /^INSERT INTO audit_events/.test(text)), "in the sign-in's transaction, not on its own")
})

t.test("the password form's answer is the second-factor form itself (no redirect, no second request), naming its own address for reloads", async (t) => {
  const lea = await createUser(app, 'lea')
  const secret = await enrolTOTP(lea.user)
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', ui_locales: 'de' }))
  const login = hiddenFields(start.res.body)
  const answer = await browser.post(`${ISSUER}/login`, { ...login, username: 'lea', password: lea.password })
  t.equal(answer.statusCode, 200, 'the page itself, not a redirect to it')
  t.notOk(answer.headers.location)
  t.match(answer.body, /autocomplete="one-time-code"/, 'the code field')
  t.match(answer.body, /<html lang="de"/, 'in the language the login page was in')
  const address = `${ISSUER}/login/factor?request=${login.request}&amp;ui_locales=de`
  t.match(answer.body, `data-address="${address}"`, 'the address a reload should ask for (the page as GET answers it)')
  t.match(answer.body, /<script src="http:\/\/stamp\.test\/static\/page-address\.js" defer><\/script>/, 'set by a static script')
  t.match(answer.headers['content-security-policy'], /script-src 'self';/, 'the CSP stays strict')
  t.notMatch(answer.headers['content-security-policy'], /unsafe-inline/)
  t.equal(answer.headers['cache-control'], 'no-store')

  const script = await browser.get(`${ISSUER}/static/page-address.js`)
  t.equal(script.statusCode, 200)
  t.match(script.body, /history\.replaceState/)

  // The address answers with the same form (a reload, or a tab restored later).
  const reloaded = await browser.get(address.replace('&amp;', '&'))
  t.equal(reloaded.statusCode, 200)
  t.same(hiddenFields(reloaded.body), hiddenFields(answer.body), 'the same form')
  t.notMatch(reloaded.body, /data-address=/, 'a page at its own address names none')

  const done = await submitFactor(browser, answer, { method: 'totp', code: totp(secret, Date.now() + 30_000) })
  t.ok(done.location?.searchParams.get('code'), 'signed in from the form the password answered with')
  const id = await idTokenFrom(done.location!)
  t.same(id.amr, ['pwd', 'otp', 'mfa'])
})
