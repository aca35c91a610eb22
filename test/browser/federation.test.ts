/**
 * "Sign in with another identity provider" in a real browser (Debian's Chromium, playwright-core):
 * an app sends the browser to Stamp, the login page's "Continue with NAME" (reached by Tab,
 * pressed with Enter) leads to node-oidc-provider's development login, and back at Stamp the
 * app receives a code whose tokens are Stamp-signed (checked against Stamp's JWKS, `amr` has
 * `fed`), for a user created just in time. Also the "link your account" page on an email match
 * (no link without the local sign-in, a wrong password links nothing, the right one links), the
 * upstream's access_denied and an upstream that is down, each with its way back. Linking by
 * confirmation mail instead (the mail option reached by Tab, the "mail sent" page, the link from
 * the mail delivered to a real SMTP server process, opened in the same browser, the confirm page,
 * back at the app with `fed`), and a just-in-time user who sets a password on /account (no current
 * password asked) and then signs in with it. axe-core runs on
 * every federation page (no serious or critical violation), and no page reports a CSP violation
 * or a script error. The browser may only reach loopback (the upstream's dev pages @import a web
 * font: that request is aborted). Screenshots go to test/artifacts/federation/, and to
 * docs/federation/ with STAMP_SCREENSHOTS=1.
 */
import t, { type Test } from 'tap'
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { createClient, createUser } from '../helper.js'
import { authorizeURL, pkce } from '../fixtures/browser.js'
import { freePort, startStamp } from '../fixtures/stamp_server.js'
import { startUpstream, UPSTREAM_SECRET } from '../fixtures/federation.js'
import { linkIn, startSMTPServer } from '../fixtures/smtp_server.js'
import { CHROMIUM, hasChromium, launchChromium, seriousViolations } from '../fixtures/chromium.js'
import { hasUsablePassword } from '../../src/domain/passwords.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ARTIFACTS = resolve(HERE, '../artifacts/federation')
const DOCS = resolve(HERE, '../../docs/federation')

/** What the page-side callbacks touch (this file is typed without the DOM library). */
declare const document: { activeElement: { textContent: string | null, tagName: string } | null }
declare function getComputedStyle (el: unknown): { backgroundColor: string }

if (!hasChromium()) {
  t.pass('skipped', { skip: `browser test skipped: no Chromium at ${CHROMIUM}` })
} else {
  mkdirSync(ARTIFACTS, { recursive: true })
  const saveDocs = process.env.STAMP_SCREENSHOTS === '1'
  if (saveDocs) mkdirSync(DOCS, { recursive: true })

  // The app: records nothing, the test reads the code from the browser's URL.
  const rp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>App</title><h1>Signed in</h1>'))
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { rp.closeAllConnections(); rp.close(() => resolve()) }))
  const CB = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`

  const smtp = await startSMTPServer(t)
  const stamp = await startStamp(t, { FEDERATION_ALLOW_LOOPBACK: 'true', FEDERATION_TIMEOUT_MS: '2000', RATE_LIMIT_ENABLED: 'false', SMTP_URL: smtp.url, MAIL_FROM: 'Stamp <id@stamp.test>' })
  const { app, issuer } = stamp
  const upstream = await startUpstream(t, issuer)
  await app.identityProviders.create({ slug: 'corp', displayName: 'Corp IdP', issuer: upstream.issuer, clientId: 'stamp', clientSecret: UPSTREAM_SECRET, jit: true }, { actor: 'test' })
  // Nothing listens on this port: discovery fails when the button is pressed.
  await app.identityProviders.create({ slug: 'down', displayName: 'Down IdP', issuer: `http://127.0.0.1:${await freePort()}`, clientId: 'stamp', clientSecret: UPSTREAM_SECRET }, { actor: 'test' })
  const client = await createClient(app, { name: 'Acme Notes', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid', 'profile', 'email'], requirePkce: true })
  const jwks = createRemoteJWKSet(new URL((await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as { jwks_uri: string }).jwks_uri))

  const browser = await launchChromium(t)

  const problems = new Map<Page, string[]>()
  /** A fresh browser profile; CSP violations and script errors of its pages are collected. */
  async function newPage (): Promise<{ context: BrowserContext, page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 820 } })
    // Traffic to loopback only.
    await context.route('**/*', (route) => ['127.0.0.1', 'localhost'].includes(new URL(route.request().url()).hostname) ? route.continue() : route.abort())
    const page = await context.newPage()
    const seen: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) seen.push(`${page.url()}: ${msg.text()}`) })
    page.on('pageerror', (err) => seen.push(`${page.url()}: ${err.message}`))
    problems.set(page, seen)
    return { context, page }
  }
  /** Only Stamp's pages count: the upstream's dev pages are not ours (and carry inline styles). */
  function stampProblems (page: Page): string[] {
    return (problems.get(page) ?? []).filter((p) => p.startsWith(issuer))
  }

  async function axe (t: Test, page: Page, name: string, screenshot?: string) {
    t.same(await seriousViolations(page), [], `${name}: no serious or critical axe violation`)
    if (screenshot) {
      await page.screenshot({ path: join(ARTIFACTS, screenshot) })
      if (saveDocs) await page.screenshot({ path: join(DOCS, screenshot) })
    }
  }

  /** Tab from where the focus is until the element named `name` has it; the number of presses (30: never). */
  async function tabTo (page: Page, name: string): Promise<number> {
    let tabs = 0
    while (tabs < 30 && await page.evaluate(() => document.activeElement?.textContent?.trim()) !== name) {
      await page.keyboard.press('Tab')
      tabs++
    }
    return tabs
  }

  /** The vertical space between a note and the form field below it (0: they touch). */
  async function gapBelow (note: Locator, next: Locator): Promise<number> {
    const [a, b] = [await note.boundingBox(), await next.boundingBox()]
    return Math.round(b!.y - (a!.y + a!.height))
  }

  function authorize (challenge: string, state: string) {
    return authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid profile email', state, nonce: `nonce-${state}`, code_challenge: challenge, code_challenge_method: 'S256' }, issuer)
  }

  /** At the upstream's development pages: any login and password, then its consent. */
  async function upstreamSignIn (page: Page, login: string) {
    await page.waitForURL((u) => u.origin === upstream.issuer)
    await page.locator('input[name=login]').fill(login)
    await page.locator('input[name=password]').fill('any password')
    await page.getByRole('button', { name: 'Sign-in' }).click()
    await page.waitForURL((u) => u.origin === upstream.issuer && !/login/.test(u.pathname) || u.origin === issuer)
    if (new URL(page.url()).origin === upstream.issuer) await page.getByRole('button', { name: 'Continue' }).click()
  }

  async function exchange (code: string, verifier: string) {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { authorization: client.basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier }),
    })
    return { status: res.status, body: await res.json() as { id_token?: string, access_token?: string } }
  }

  t.test('app → Stamp → Continue with Corp IdP (keyboard) → upstream login → Stamp → app, Stamp-signed tokens, JIT user', async (t) => {
    const { context, page } = await newPage()
    const { verifier, challenge } = pkce()
    await page.goto(authorize(challenge, 'jit'))
    t.equal(new URL(page.url()).pathname, '/login', 'the hosted login page')
    const button = page.getByRole('button', { name: 'Continue with Corp IdP' })
    t.ok(await button.isVisible(), 'the provider button')
    t.ok(await page.getByRole('button', { name: 'Continue with Down IdP' }).isVisible(), 'one button per enabled provider')
    t.ok(await page.getByRole('heading', { name: 'Other ways to sign in' }).isVisible(), 'the buttons sit under a heading')
    await axe(t, page, 'login page with provider buttons', 'login.png')

    // Keyboard only: Tab from the top of the page until the button has the focus, then Enter.
    const tabs = await tabTo(page, 'Continue with Corp IdP')
    t.ok(tabs < 30, `the button is reached by Tab (${tabs} presses)`)
    t.equal(await page.evaluate(() => document.activeElement?.tagName), 'BUTTON')
    await Promise.all([page.waitForURL((u) => u.origin === upstream.issuer), page.keyboard.press('Enter')])
    t.pass('Enter sent the browser to the upstream')

    await upstreamSignIn(page, 'dave')
    await page.waitForURL((u) => u.href.startsWith(CB))
    const landed = new URL(page.url())
    t.equal(landed.searchParams.get('state'), 'jit')
    t.equal(landed.searchParams.get('iss'), issuer, 'RFC 9207 iss: Stamp, not the upstream')
    const res = await exchange(landed.searchParams.get('code')!, verifier)
    t.equal(res.status, 200, 'the app exchanged the code')
    const { payload, protectedHeader } = await jwtVerify(res.body.id_token!, jwks, { issuer, audience: client.client.id })
    t.ok(protectedHeader.kid, 'signed with a key of Stamp\'s JWKS')
    t.ok((payload.amr as string[]).includes('fed'), 'amr carries fed (RFC 8176)')
    t.equal(payload.nonce, 'nonce-jit')
    await jwtVerify(res.body.access_token!, jwks, { issuer })
    t.pass('the access token verifies against Stamp\'s JWKS too')
    const user = await app.usersRepository.findById(String(payload.sub))
    t.equal(user?.email, 'dave@example.com', 'the JIT user has the upstream email')
    t.equal(user?.username, 'dave')
    t.equal((await app.federation.linksFor(user!.id))[0]?.subject, 'dave', 'linked to the upstream sub')
    t.same(stampProblems(page), [], 'no CSP violation or script error on Stamp\'s pages')
    await context.close()
  })

  t.test('an email matching a local account: the link page, no link without the local sign-in, then linked', async (t) => {
    const carol = await createUser(app, 'carol', 'carol has a long passphrase')
    const { context, page } = await newPage()
    const { verifier, challenge } = pkce()
    await page.goto(authorize(challenge, 'link'))
    await page.getByRole('button', { name: 'Continue with Corp IdP' }).click()
    await upstreamSignIn(page, 'carol')
    await page.waitForURL((u) => u.origin === issuer)
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You already have an account', 'the link page')
    t.match(await page.locator('main').innerText(), /carol@example\.com/)
    await axe(t, page, 'link page', 'link.png')
    t.same(await app.federation.linksFor(carol.user.id), [], 'not linked by the email alone')
    t.same((await app.usersRepository.findByEmail('carol@example.com')).map((u) => u.id), [carol.user.id], 'no JIT twin')

    await page.getByRole('button', { name: 'Sign in to link Corp IdP' }).click()
    await page.waitForURL((u) => u.pathname === '/login')
    t.match(await page.locator('#link-notice').innerText(), /Corp IdP will then be linked/, 'the login page says what signing in does')
    t.ok(await gapBelow(page.locator('#link-notice'), page.getByText('Username', { exact: true })) >= 12, 'the notice does not touch the Username label')
    await axe(t, page, 'login page with a pending link', 'link-sign-in.png')
    await page.getByLabel('Username').fill('carol')
    await page.getByLabel('Password').fill('not carols passphrase')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForSelector('[role=alert]')
    t.same(await app.federation.linksFor(carol.user.id), [], 'a wrong password links nothing')

    await page.getByLabel('Password').fill(carol.password)
    await Promise.all([page.waitForURL((u) => u.href.startsWith(CB)), page.getByRole('button', { name: 'Sign in', exact: true }).click()])
    const res = await exchange(new URL(page.url()).searchParams.get('code')!, verifier)
    const { payload } = await jwtVerify(res.body.id_token!, jwks, { issuer, audience: client.client.id })
    t.equal(payload.sub, carol.user.id, 'signed in as carol')
    t.notOk((payload.amr as string[]).includes('fed'), 'this sign-in was the local one')
    t.same((await app.federation.linksFor(carol.user.id)).map((l) => l.subject), ['carol'], 'linked after the local sign-in')

    t.same(stampProblems(page), [], 'no CSP violation or script error on Stamp\'s pages')
    await context.close()

    // From now on the upstream alone signs carol in (a fresh browser: no Stamp session).
    const fresh = await newPage()
    const next = pkce()
    await fresh.page.goto(authorize(next.challenge, 'linked'))
    await fresh.page.getByRole('button', { name: 'Continue with Corp IdP' }).click()
    await upstreamSignIn(fresh.page, 'carol')
    await fresh.page.waitForURL((u) => u.href.startsWith(CB))
    const fed = await jwtVerify((await exchange(new URL(fresh.page.url()).searchParams.get('code')!, next.verifier)).body.id_token!, jwks, { issuer, audience: client.client.id })
    t.equal(fed.payload.sub, carol.user.id, 'the next federated sign-in goes straight to the app, as carol')
    t.ok((fed.payload.amr as string[]).includes('fed'))
    await fresh.context.close()
  })

  t.test('the upstream answers access_denied: an error page with a way back', async (t) => {
    const { context, page } = await newPage()
    await page.goto(authorize(pkce().challenge, 'denied'))
    await page.getByRole('button', { name: 'Continue with Corp IdP' }).click()
    await page.waitForURL((u) => u.origin === upstream.issuer)
    await Promise.all([page.waitForURL((u) => u.origin === issuer), page.getByRole('link', { name: '[ Cancel ]' }).click()])
    t.equal(new URL(page.url()).pathname, '/federation/callback')
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sign-in with Corp IdP did not work')
    t.match(await page.getByRole('alert').innerText(), /Corp IdP did not sign you in \(access_denied\)/)
    await axe(t, page, 'error page: access_denied', 'error-denied.png')
    await page.getByRole('link', { name: 'Back to the sign-in page' }).click()
    await page.waitForURL((u) => u.pathname === '/login')
    t.ok(await page.getByRole('button', { name: 'Continue with Corp IdP' }).isVisible(), 'back at the sign-in page of the same request')
    t.same(stampProblems(page), [], 'no CSP violation or script error on Stamp\'s pages')
    await context.close()
  })

  t.test('an upstream that is down: an error page with a way back', async (t) => {
    const { context, page } = await newPage()
    await page.goto(authorize(pkce().challenge, 'down'))
    const response = page.waitForResponse((r) => r.url() === `${issuer}/federation/start`)
    await page.getByRole('button', { name: 'Continue with Down IdP' }).click()
    t.equal((await response).status(), 502)
    t.match(await page.getByRole('alert').innerText(), /Down IdP cannot be reached right now/)
    await axe(t, page, 'error page: upstream down', 'error-down.png')
    await page.getByRole('link', { name: 'Back to the sign-in page' }).click()
    await page.waitForURL((u) => u.pathname === '/login')
    t.ok(await page.getByLabel('Username').isVisible(), 'the sign-in page again: another way to sign in')
    t.same(stampProblems(page), [], 'no CSP violation or script error on Stamp\'s pages')
    await context.close()
  })

  t.test('linking by a confirmation mail: the mail option (Tab), the mail, the confirm page in the same browser, back at the app with fed', async (t) => {
    const frank = await createUser(app, 'frank', 'frank has a long passphrase')
    // The mail goes to a verified address only.
    await app.dbPool.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [frank.user.id])
    const { context, page } = await newPage()
    const { verifier, challenge } = pkce()
    await page.goto(authorize(challenge, 'mail'))
    await page.getByRole('button', { name: 'Continue with Corp IdP' }).click()
    await upstreamSignIn(page, 'frank')
    await page.waitForURL((u) => u.origin === issuer)
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'You already have an account', 'the link page')
    const mailButton = page.getByRole('button', { name: 'Send me a confirmation mail instead' })
    t.ok(await mailButton.isVisible(), 'it offers the mail')
    // The second way is a secondary button in the page's style, not the browser's default grey one.
    t.equal(await mailButton.evaluate((el) => getComputedStyle(el).backgroundColor), 'rgba(0, 0, 0, 0)', 'the mail option is styled as a secondary button')
    await axe(t, page, 'link page with the mail option')

    const tabs = await tabTo(page, 'Send me a confirmation mail instead')
    t.ok(tabs < 30, `the mail option is reached by Tab (${tabs} presses)`)
    t.equal(await page.evaluate(() => document.activeElement?.tagName), 'BUTTON')
    await Promise.all([page.waitForURL((u) => u.pathname === '/federation/link/mail'), page.keyboard.press('Enter')])
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Check your mail', 'the mail-sent page')
    t.match(await page.locator('main').innerText(), /frank@example\.com/)
    await axe(t, page, 'mail-sent page', 'link-mail-sent.png')

    const mail = await smtp.waitFor((m) => /frank@example\.com/.test(m.to) && /Link Corp IdP/.test(m.subject))
    const link = linkIn(mail, `${issuer}/federation/link/confirm?token=`)
    t.same(await app.federation.linksFor(frank.user.id), [], 'sending the mail links nothing')
    await page.goto(link)
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Link Corp IdP', 'the confirm page')
    t.match(await page.locator('main').innerText(), /frank/)
    await axe(t, page, 'confirm page', 'link-mail-confirm.png')
    t.same(await app.federation.linksFor(frank.user.id), [], 'opening the link links nothing')

    await Promise.all([page.waitForURL((u) => u.href.startsWith(CB)), page.getByRole('button', { name: 'Link and continue' }).click()])
    const landed = new URL(page.url())
    t.equal(landed.searchParams.get('state'), 'mail', 'back at the app')
    const res = await exchange(landed.searchParams.get('code')!, verifier)
    t.equal(res.status, 200)
    const { payload } = await jwtVerify(res.body.id_token!, jwks, { issuer, audience: client.client.id })
    t.equal(payload.sub, frank.user.id, 'signed in as the local account')
    t.ok((payload.amr as string[]).includes('fed'), 'amr carries fed')
    t.equal(payload.nonce, 'nonce-mail')
    t.same((await app.federation.linksFor(frank.user.id)).map((l) => l.subject), ['frank'], 'linked')
    t.same(stampProblems(page), [], 'no CSP violation or script error on Stamp\'s pages')
    await context.close()
  })

  t.test('a just-in-time user sets a password on /account, then signs in with it', async (t) => {
    const { context, page } = await newPage()
    await page.goto(`${issuer}/account`)
    await page.getByRole('button', { name: 'Continue with Corp IdP' }).click()
    await upstreamSignIn(page, 'gina')
    await page.waitForURL((u) => u.origin === issuer && u.pathname === '/account')
    const gina = (await app.usersRepository.findByUsername('gina'))!
    t.notOk(hasUsablePassword(gina.passwordHash), 'created just in time, without a password')
    t.ok(await page.getByRole('button', { name: 'Set password' }).isVisible(), 'Set password, not Change password')
    t.equal(await page.locator('input[name=current_password]').count(), 0, 'no current password asked')
    const note = page.getByText('Your account has no password yet', { exact: false })
    t.ok(await note.isVisible(), 'the page says why')
    t.ok(await gapBelow(note, page.getByText('New password', { exact: true })) >= 12, 'the note does not touch the New password label')
    await axe(t, page, 'account page: set password', 'account-set-password.png')

    await page.getByLabel('New password').fill('gina picks a long passphrase')
    await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'password_set'), page.getByRole('button', { name: 'Set password' }).click()])
    t.match(await page.getByRole('status').first().innerText(), /Your password was set/)
    t.ok(await page.getByRole('button', { name: 'Change password' }).isVisible(), 'from now on: Change password')
    t.ok(await page.getByLabel('Current password').isVisible(), 'with the current one')
    await axe(t, page, 'account page after setting the password')
    t.same(stampProblems(page), [], 'no CSP violation or script error on Stamp\'s pages')
    await context.close()

    // A fresh browser: the local sign-in with the new password.
    const fresh = await newPage()
    const { verifier, challenge } = pkce()
    await fresh.page.goto(authorize(challenge, 'pwd'))
    await fresh.page.getByLabel('Username').fill('gina')
    await fresh.page.getByLabel('Password').fill('gina picks a long passphrase')
    await Promise.all([fresh.page.waitForURL((u) => u.href.startsWith(CB)), fresh.page.getByRole('button', { name: 'Sign in', exact: true }).click()])
    const res = await exchange(new URL(fresh.page.url()).searchParams.get('code')!, verifier)
    const { payload } = await jwtVerify(res.body.id_token!, jwks, { issuer, audience: client.client.id })
    t.equal(payload.sub, gina.id, 'signed in locally as gina')
    t.ok((payload.amr as string[]).includes('pwd'), 'with the password (RFC 8176 pwd)')
    t.notOk((payload.amr as string[]).includes('fed'))
    t.same(stampProblems(fresh.page), [], 'no CSP violation or script error on Stamp\'s pages')
    await fresh.context.close()
  })
}
