/**
 * Linking an upstream identity to an existing account by a confirmation mail (real SMTP server),
 * GitHub's non-public addresses (`/user/emails`), and users without a password: NO_PASSWORD
 * never verifies, and such a user sets (not changes) a password on the account page.
 *
 * @module
 */
import t from 'tap'
import { createUser, postForm } from '../helper.js'
import { hiddenFields } from '../fixtures/browser.js'
import { linkIn, startSMTPServer } from '../fixtures/smtp_server.js'
import { APP, BYE, HttpBrowser, UPSTREAM_SECRET, addProvider, continueForm, oidcSetup, startAtStamp, startOAuth2, tokens, upstreamLeg, verifyIdToken } from '../fixtures/federation.js'
import { NO_PASSWORD, PasswordHasher, hasUsablePassword } from '../../src/domain/passwords.js'
import { defaults } from '../../src/config/defaults.js'

const smtp = await startSMTPServer(t)
let setup: ReturnType<typeof oidcSetup> | undefined
const shared = () => (setup ??= oidcSetup(t, {}, { SMTP_URL: smtp.url, MAIL_FROM: 'Stamp <id@stamp.test>' }))

/** The link page's "Send me a confirmation mail instead" form. */
function mailForm (body: string): { action: string, fields: Record<string, string> } {
  const m = /<form method="post" action="([^"]*\/federation\/link\/mail)">([\s\S]*?)<\/form>/.exec(body)
  if (!m) throw new Error('no mail form on the link page')
  return { action: m[1], fields: hiddenFields(m[2]) }
}

async function verifiedUser (app: Awaited<ReturnType<typeof shared>>['stamp']['app'], name: string) {
  const u = await createUser(app, name, `${name} has a long passphrase`)
  await app.dbPool.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [u.user.id])
  return u
}

t.test('the link page offers a confirmation mail; the mailed link, opened in the same browser, links and signs in', async (t) => {
  const { stamp, client, provider } = await shared()
  const olga = await verifiedUser(stamp.app, 'olga')
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  const linkPage = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp', 'olga')).href)
  t.equal(linkPage.res.status, 409, 'the link page')
  const form = mailForm(linkPage.res.body)

  // A forged form (no CSRF token) sends nothing.
  const forged = await browser.request('POST', form.action, { request: form.fields.request })
  t.equal(forged.status, 403)

  const sent = await browser.request('POST', form.action, form.fields)
  t.equal(sent.status, 200)
  t.match(sent.body, /Check your mail/)
  const back = /<a href="([^"]*\/login\?request=[^"]*)"/.exec(sent.body)
  t.ok(back, 'the page links back to the sign-in')
  t.match(back?.[1], `request=${form.fields.request}`, 'of the same request, where the pending link waits')
  const mail = await smtp.waitFor((m) => /olga@example\.com/.test(m.to) && /Link Corp IdP/.test(m.subject))
  const link = linkIn(mail, `${stamp.issuer}/federation/link/confirm?token=`)
  t.same(await stamp.app.federation.linksFor(olga.user.id), [], 'nothing linked by sending')
  const tokens1 = await stamp.app.dbPool.query("SELECT token_hash FROM account_tokens WHERE purpose = 'link_identity' AND user_id = $1", [olga.user.id])
  t.equal(tokens1.rowCount, 1)
  t.notOk(tokens1.rows[0].token_hash.includes(new URL(link).searchParams.get('token')), 'only the hash is stored')

  // Another browser (the mail read on a phone, or by an attacker who got the mail): refused, nothing used.
  const other = await new HttpBrowser().request('GET', link)
  t.equal(other.status, 400)
  t.match(other.body, /browser where you started/)

  // Opening the link uses nothing (mail scanners): a confirm button.
  const confirm = await browser.request('GET', link)
  t.equal(confirm.status, 200)
  t.match(confirm.body, /Link and continue/)
  t.same(await stamp.app.federation.linksFor(olga.user.id), [], 'not linked by opening')
  const fields = hiddenFields(confirm.body)
  t.equal((await browser.request('POST', `${stamp.issuer}/federation/link/confirm`, { ...fields, csrf: 'x' })).status, 403, 'CSRF checked')

  const done = await browser.follow(`${stamp.issuer}/federation/link/confirm`, fields)
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, 'signed in and back at the app')
  const id = await verifyIdToken(stamp, client, (await tokens(stamp.app, client, done.location!.searchParams.get('code')!, verifier)).json().id_token)
  t.equal(id.sub, olga.user.id, 'as the local account')
  t.ok((id.amr as string[]).includes('fed'))
  const links = await stamp.app.federation.linksFor(olga.user.id)
  t.equal(links.length, 1, 'linked')
  t.equal(links[0].providerId, provider.id)

  const replay = await browser.request('POST', `${stamp.issuer}/federation/link/confirm`, fields)
  t.equal(replay.status, 400, 'the link works once')
  const audit = await stamp.app.dbPool.query("SELECT type, detail FROM audit_events WHERE subject = $1 AND type IN ('federated_link_mail_requested', 'federated_identity_linked') ORDER BY id", [olga.user.id])
  t.same(audit.rows.map((r) => r.type), ['federated_link_mail_requested', 'federated_identity_linked'], 'audited')
  t.equal(audit.rows[1].detail.via, 'mail')
})

t.test('a link confirmed by mail starts a federated session: logout ends the upstream session too', async (t) => {
  const { stamp, client, upstream } = await shared()
  await addProvider(stamp.app, { slug: 'corp-logout', displayName: 'Corp Logout', issuer: upstream.issuer, clientId: 'stamp', clientSecret: UPSTREAM_SECRET, jit: true, upstreamLogout: true })
  await verifiedUser(stamp.app, 'ulla')
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  const linkPage = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp-logout', 'ulla')).href)
  t.equal(linkPage.res.status, 409, 'the link page')
  const form = mailForm(linkPage.res.body)
  t.equal((await browser.request('POST', form.action, form.fields)).status, 200)
  const mail = await smtp.waitFor((m) => /ulla@example\.com/.test(m.to) && /Link Corp Logout/.test(m.subject))
  const link = linkIn(mail, `${stamp.issuer}/federation/link/confirm?token=`)
  const done = await browser.follow(`${stamp.issuer}/federation/link/confirm`, hiddenFields((await browser.request('GET', link)).body))
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, 'signed in and back at the app')
  const idToken = (await tokens(stamp.app, client, done.location!.searchParams.get('code')!, verifier)).json().id_token as string
  const logout = await browser.request('GET', `${stamp.issuer}/logout?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: 'bye-2' })}`)
  t.equal(logout.status, 303, 'Stamp signs out')
  const target = new URL(logout.headers.get('location')!)
  t.equal(target.origin, new URL(upstream.issuer).origin, `on to the upstream (${target.href})`)
  t.match(target.pathname, /session\/end/, 'its end_session_endpoint')
  t.ok(target.searchParams.get('id_token_hint'), 'with the upstream ID Token the link page held')

  // The same provider, linked by a local sign-in instead: a local session, which ends at Stamp only.
  const vera = await verifiedUser(stamp.app, 'vera')
  const other = new HttpBrowser()
  const started = await startAtStamp(other, stamp, client)
  const veraLink = await other.follow((await upstreamLeg(other, stamp, started.page.body, 'corp-logout', 'vera')).href)
  const login = await other.request('GET', `${stamp.issuer}/login?request=${mailForm(veraLink.res.body).fields.request}`)
  const signedIn = await other.follow(`${stamp.issuer}/login`, { ...hiddenFields(login.body), username: 'vera', password: vera.password })
  t.equal((await stamp.app.federation.linksFor(vera.user.id)).length, 1, 'linked by the local sign-in')
  const localToken = (await tokens(stamp.app, client, signedIn.location!.searchParams.get('code')!, started.verifier)).json().id_token as string
  const localLogout = await other.request('GET', `${stamp.issuer}/logout?${new URLSearchParams({ id_token_hint: localToken, post_logout_redirect_uri: BYE, state: 'bye-3' })}`)
  t.equal(localLogout.headers.get('location'), `${BYE}?state=bye-3`, 'straight back to the app: nothing to end upstream')
})

t.test('no mail to an unverified address, and the same page either way', async (t) => {
  const { stamp, client } = await shared()
  const pia = await createUser(stamp.app, 'pia', 'pia has a long passphrase')
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const linkPage = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp', 'pia')).href)
  const form = mailForm(linkPage.res.body)
  const before = smtp.received.length
  const sent = await browser.request('POST', form.action, form.fields)
  t.equal(sent.status, 200)
  t.match(sent.body, /Check your mail/, 'the same answer')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(smtp.received.slice(before).filter((m) => /pia@example\.com/.test(m.to)).length, 0, 'no mail')
  const audit = await stamp.app.dbPool.query("SELECT detail FROM audit_events WHERE subject = $1 AND type = 'federated_link_mail_requested'", [pia.user.id])
  t.equal(audit.rows[0].detail.sent, false)
  t.equal(audit.rows[0].detail.reason, 'no_verified_email')
})

t.test('a local sign-in after the mail was sent makes the mailed link useless', async (t) => {
  const { stamp, client } = await shared()
  const quinn = await verifiedUser(stamp.app, 'quinn')
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const linkPage = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp', 'quinn')).href)
  const form = mailForm(linkPage.res.body)
  await browser.request('POST', form.action, form.fields)
  const mail = await smtp.waitFor((m) => /quinn@example\.com/.test(m.to))
  const link = linkIn(mail, `${stamp.issuer}/federation/link/confirm?token=`)
  const login = await browser.request('GET', `${stamp.issuer}/login?request=${form.fields.request}`)
  const signedIn = await browser.follow(`${stamp.issuer}/login`, { ...hiddenFields(login.body), username: 'quinn', password: quinn.password })
  t.ok(signedIn.location, 'signed in locally (and linked)')
  t.equal((await stamp.app.federation.linksFor(quinn.user.id)).length, 1)
  t.equal((await browser.request('GET', link)).status, 400, 'the mailed link is no longer valid')
})

t.test('GitHub-style non-public addresses: the primary verified one from /user/emails, never an unverified one', async (t) => {
  const { stamp, client } = await shared()
  const gh = await startOAuth2(t)
  await addProvider(stamp.app, {
    slug: 'gh', displayName: 'GitHub', kind: 'oauth2', clientId: 'gh-client', clientSecret: UPSTREAM_SECRET, scope: 'read:user user:email',
    authorizationEndpoint: `${gh.base}/authorize`, tokenEndpoint: `${gh.base}/token`, userinfoEndpoint: `${gh.base}/user`, emailsEndpoint: `${gh.base}/user/emails`, jit: true,
  })
  t.equal(stamp.app.identityProviders.view((await stamp.app.identityProviders.find('gh'))!).emails_endpoint, `${gh.base}/user/emails`, 'in the admin view')
  const signIn = async () => {
    const browser = new HttpBrowser()
    const { page, verifier } = await startAtStamp(browser, stamp, client, { prompt: 'login' })
    const toUpstream = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, 'gh'))
    return { back: await browser.follow(toUpstream.headers.get('location')!), verifier }
  }

  // An unverified primary and a verified secondary: neither is used.
  gh.mode.user = { status: 200, body: JSON.stringify({ id: 1001, login: 'hidden-one', email: null }) }
  gh.mode.emails = [{ email: 'one@private.example', primary: true, verified: false }, { email: 'one@other.example', primary: false, verified: true }]
  const first = await signIn()
  t.equal(first.back.location?.origin + (first.back.location?.pathname ?? ''), APP)
  const one = await stamp.app.usersRepository.findByUsername('hidden-one')
  t.equal(one?.email, null, 'no address without a primary verified one')

  // The primary verified address is taken (and verified).
  gh.mode.user = { status: 200, body: JSON.stringify({ id: 1002, login: 'hidden-two', email: null }) }
  gh.mode.emails = [{ email: 'two@other.example', primary: false, verified: true }, { email: 'two@private.example', primary: true, verified: true }]
  await signIn()
  const two = await stamp.app.usersRepository.findByUsername('hidden-two')
  t.equal(two?.email, 'two@private.example')
  t.ok(two?.emailVerifiedAt, 'verified')

  // A verified primary address that matches a local account leads to the link page, not a twin.
  const rosa = await createUser(stamp.app, 'rosa', 'rosa has a long passphrase')
  gh.mode.user = { status: 200, body: JSON.stringify({ id: 1003, login: 'rosa-gh', email: null }) }
  gh.mode.emails = [{ email: 'rosa@example.com', primary: true, verified: true }]
  const third = await signIn()
  t.equal(third.back.res.status, 409, 'the link page')
  t.same(await stamp.app.federation.linksFor(rosa.user.id), [])

  // An unverified address in userinfo that matches a local account: no link offer, no twin address.
  const sam = await createUser(stamp.app, 'sam', 'sam has a long passphrase')
  gh.mode.user = { status: 200, body: JSON.stringify({ id: 1004, login: 'sam-gh', email: 'sam@example.com' }) }
  gh.mode.emails = []
  const fourth = await signIn()
  t.equal(fourth.back.location?.origin + (fourth.back.location?.pathname ?? ''), APP, 'a new user, not the link page')
  const samGH = await stamp.app.usersRepository.findByUsername('sam-gh')
  t.equal(samGH?.email, null, 'without the unverified address')
  t.same(await stamp.app.federation.linksFor(sam.user.id), [])
})

t.test('NO_PASSWORD never verifies, whatever is typed, on every password path', async (t) => {
  const hasher = new PasswordHasher(defaults.argon2)
  t.notOk(hasUsablePassword(NO_PASSWORD))
  t.ok(hasUsablePassword(await hasher.hash('x')))
  for (const typed of [NO_PASSWORD, '', 'federated', '!federated ', 'x']) t.notOk(await hasher.verify(NO_PASSWORD, typed), `not ${JSON.stringify(typed)}`)

  const { stamp, client } = await shared()
  await stamp.app.usersRepository.create({ username: 'nopass', email: null, passwordHash: NO_PASSWORD, scopes: [] })
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const login = await browser.request('POST', `${stamp.issuer}/login`, { ...hiddenFields(page.body), username: 'nopass', password: NO_PASSWORD })
  t.equal(login.status, 401, 'the login form refuses')
  const grant = await postForm(stamp.app, '/token', { grant_type: 'password', username: 'nopass', password: NO_PASSWORD }, { authorization: client.basic })
  t.not(grant.statusCode, 200, 'the password grant refuses')
})

t.test('a just-in-time user sets a password on the account page (no current one to give)', async (t) => {
  const { stamp } = await shared()
  const browser = new HttpBrowser()
  const login = await browser.follow(`${stamp.issuer}/account`)
  t.equal(login.res.status, 200, 'the sign-in page for the account page')
  const account = await browser.follow((await upstreamLeg(browser, stamp, login.res.body, 'corp', 'tara')).href)
  t.equal(account.res.status, 200)
  t.match(account.res.url, /\/account$/, 'back on the account page')
  t.match(account.res.body, /Set password/)
  t.notMatch(account.res.body, /name="current_password"/, 'no current password asked')
  t.match(account.res.body, /has no password yet/)
  const user = (await stamp.app.usersRepository.findByUsername('tara'))!
  t.notOk(hasUsablePassword(user.passwordHash))

  const csrf = /<form method="post" action="[^"]*\/account\/password">\s*<input type="hidden" name="csrf" value="([^"]+)">/.exec(account.res.body)![1]
  t.equal((await browser.request('POST', `${stamp.issuer}/account/password`, { csrf: 'forged', new_password: 'tara picks a long passphrase' })).status, 403, 'CSRF checked')
  const short = await browser.request('POST', `${stamp.issuer}/account/password`, { csrf, new_password: 'short' })
  t.equal(short.status, 400, 'the password policy applies')
  const set = await browser.request('POST', `${stamp.issuer}/account/password`, { csrf, new_password: 'tara picks a long passphrase' })
  t.equal(set.status, 303)
  t.match(set.headers.get('location'), /done=password_set/)
  const after = (await stamp.app.usersRepository.findById(user.id))!
  t.ok(await stamp.app.passwordHasher.verify(after.passwordHash, 'tara picks a long passphrase'), 'the new password works')
  const page = await browser.request('GET', `${stamp.issuer}/account?done=password_set`)
  t.match(page.body, /Your password was set/)
  t.match(page.body, /Change password/, 'from now on: change, with the current one')
  t.match(page.body, /name="current_password"/)
  const audit = await stamp.app.dbPool.query("SELECT type FROM audit_events WHERE subject = $1 AND type = 'password_set'", [user.id])
  t.equal(audit.rowCount, 1, 'audited')
})

t.test('setting a password needs a recent sign-in', async (t) => {
  const { stamp } = await shared()
  const browser = new HttpBrowser()
  const login = await browser.follow(`${stamp.issuer}/account`)
  const account = await browser.follow((await upstreamLeg(browser, stamp, login.res.body, 'corp', 'uma')).href)
  const csrf = /name="csrf" value="([^"]+)"/.exec(account.res.body)![1]
  await stamp.app.dbPool.query("UPDATE sessions SET auth_time = now() - interval '1 hour' WHERE user_id = (SELECT id FROM users WHERE username = 'uma')")
  const stale = await browser.request('POST', `${stamp.issuer}/account/password`, { csrf, new_password: 'uma picks a long passphrase' })
  t.equal(stale.status, 303)
  t.match(stale.headers.get('location'), /\/login\?request=/, 'sent to sign in again')
  t.notOk(hasUsablePassword((await stamp.app.usersRepository.findByUsername('uma'))!.passwordHash), 'nothing set')
})
