/**
 * The account pages in a real browser (Debian's Chromium, playwright-core) with mail through a
 * real SMTP server process: password reset end to end (forgot link on the login page, mail,
 * new password, old one refused, sessions and refresh families ended), open sign-up with the
 * verification link, German pages, a branded page; axe-core on every hosted page (no serious or
 * critical violation, under the pages' strict CSP); screenshots into test/artifacts.
 */
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { buildApp } from '../../src/app.js'
import { createClient, createTestDatabase, createUser, passwordGrant, refreshGrant, testConfig } from '../helper.js'
import { authorizeURL } from '../fixtures/browser.js'
import { linkIn, startSMTPServer } from '../fixtures/smtp_server.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '../artifacts')
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

if (!existsSync(CHROMIUM)) {
  t.pass('skipped', { skip: `browser test skipped: no Chromium at ${CHROMIUM}` })
} else {
  const { chromium } = await import('playwright-core')
  const smtp = await startSMTPServer(t)

  async function listen (server: Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return (server.address() as AddressInfo).port
  }
  const rp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>App</title><h1>App</h1>'))
  const rpPort = await listen(rp)
  t.teardown(() => new Promise<void>((resolve) => { rp.closeAllConnections(); rp.close(() => resolve()) }))
  const CB = `http://127.0.0.1:${rpPort}/cb`

  /** A listening Stamp (the issuer names its port). */
  async function stampAt (env: Record<string, string>) {
    const probe = createServer()
    const port = await listen(probe)
    await new Promise((resolve) => probe.close(resolve))
    const issuer = `http://127.0.0.1:${port}`
    const url = await createTestDatabase(t)
    const app = await buildApp({ config: testConfig(url, { ISSUER: issuer, SMTP_URL: smtp.url, ...env }), database: { url, poolMax: 5 }, scheduleKeys: false })
    await app.listen({ port, host: '127.0.0.1' })
    t.teardown(() => app.close())
    return { app, issuer }
  }

  const { app, issuer } = await stampAt({ SIGNUP: 'open' })
  const client = await createClient(app, { name: 'Acme Notes', firstParty: false, grantTypes: ['authorization_code', 'password', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'profile', 'offline_access'] })
  // A first-party client holds a refresh family of the user (the password grant is first-party only).
  const cli = await createClient(app, { name: 'Acme CLI', firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'offline_access'] })
  const nora = await createUser(app, 'nora')
  const login = (extra: Record<string, string> = {}) => authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid profile', ...extra }, issuer)

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  mkdirSync(ARTIFACTS, { recursive: true })

  const audited: string[] = []
  /** axe-core on the page: injected through the DevTools protocol, so the page's CSP stays strict. */
  async function axe (t: { same: typeof import('tap').default.same }, page: Page, name: string, screenshot?: string) {
    await page.evaluate(AXE)
    // A string, evaluated in the page (this file is compiled without the DOM library).
    const violations = await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) =>
      r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })))`) as Array<{ id: string, impact: string, targets: string[] }>
    t.same(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), [], `${name}: no serious or critical axe violation`)
    audited.push(name)
    if (screenshot) await page.screenshot({ path: join(ARTIFACTS, screenshot) })
  }

  async function newPage (locale = 'en-US') {
    const context = await browser.newContext({ viewport: { width: 1000, height: 820 }, locale })
    const page = await context.newPage()
    const csp: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) csp.push(msg.text()) })
    return { context, page, csp }
  }

  t.test('password reset end to end in the browser', async (t) => {
    const before = await newPage()
    await before.page.goto(login())
    await before.page.getByLabel('Username').fill('nora')
    await before.page.getByLabel('Password').fill(nora.password)
    await before.page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await before.page.waitForURL((u) => u.pathname === '/consent')
    await axe(t, before.page, 'consent', 'consent.png')
    await Promise.all([before.page.waitForURL((u) => u.href.startsWith(CB)), before.page.getByRole('button', { name: 'Allow' }).click()])
    const tokens = await passwordGrant(app, cli, 'nora', nora.password, 'openid offline_access')

    const { context, page, csp } = await newPage()
    await page.goto(login())
    await axe(t, page, 'login', 'login.png')
    await page.getByLabel('Username').fill('nora')
    await page.getByLabel('Password').fill('not it')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForSelector('[role=alert]')
    await axe(t, page, 'login with an error')
    await page.getByRole('link', { name: 'Forgot password?' }).click()
    await page.waitForURL((u) => u.pathname === '/password/forgot')
    await axe(t, page, 'forgot password', 'forgot.png')
    await page.getByLabel('Email address').fill('nora@example.com')
    await page.getByRole('button', { name: 'Send reset link' }).click()
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor()
    await axe(t, page, 'reset link sent')

    const mail = await smtp.waitFor((m) => /nora@example\.com/.test(m.to) && /Reset/.test(m.subject))
    await page.goto(linkIn(mail, `${issuer}/password/reset?token=`))
    await axe(t, page, 'reset form', 'reset.png')
    await page.getByLabel('New password', { exact: true }).fill('short')
    await page.getByLabel('Repeat the new password').fill('short')
    await page.getByRole('button', { name: 'Set new password' }).click()
    await page.waitForSelector('[role=alert]')
    t.match(await page.locator('[role=alert]').innerText(), /at least \d+ characters/)
    await axe(t, page, 'reset form with an error')
    await page.getByLabel('New password', { exact: true }).fill('nora picked a new one')
    await page.getByLabel('Repeat the new password').fill('nora picked a new one')
    await page.getByRole('button', { name: 'Set new password' }).click()
    await page.getByRole('heading', { name: 'Password changed' }).waitFor()
    await axe(t, page, 'password changed')

    // The other browser's session is over: it sees the form again, and the old password fails.
    await before.page.goto(login())
    t.equal(new URL(before.page.url()).pathname, '/login', 'the session from before the reset ended')
    await before.page.getByLabel('Username').fill('nora')
    await before.page.getByLabel('Password').fill(nora.password)
    await before.page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await before.page.waitForSelector('[role=alert]')
    t.match(await before.page.locator('[role=alert]').innerText(), /Incorrect username or password/, 'the old password is refused')
    await before.page.getByLabel('Password').fill('nora picked a new one')
    await Promise.all([before.page.waitForURL((u) => u.href.startsWith(CB)), before.page.getByRole('button', { name: 'Sign in', exact: true }).click()])
    t.equal((await refreshGrant(app, cli, tokens.refresh_token)).json().error, 'invalid_grant', 'the refresh family is revoked')
    t.same(csp, [], 'no CSP violations')
    await context.close()
    await before.context.close()
  })

  t.test('open sign-up with the verification link', async (t) => {
    const { context, page } = await newPage()
    await page.goto(login())
    await page.getByRole('link', { name: 'Create an account' }).click()
    await page.waitForURL((u) => u.pathname === '/signup')
    await axe(t, page, 'sign-up', 'signup.png')
    await page.getByLabel('Username').fill('omar')
    await page.getByLabel('Email address').fill('omar@example.com')
    await page.getByLabel('Password').fill('short')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.waitForSelector('[role=alert]')
    await axe(t, page, 'sign-up with an error')
    await page.getByLabel('Password').fill('omar has a long passphrase')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByRole('heading', { name: 'Confirm your email address' }).waitFor()
    await axe(t, page, 'sign-up: check your inbox')
    const mail = await smtp.waitFor((m) => /omar@example\.com/.test(m.to))
    await page.goto(linkIn(mail, `${issuer}/email/verify?token=`))
    await axe(t, page, 'verify address', 'verify.png')
    await page.getByRole('button', { name: 'Confirm' }).click()
    await page.getByRole('heading', { name: 'Email address confirmed' }).waitFor()
    await axe(t, page, 'address confirmed')
    await context.close()
  })

  t.test('German, logout, error pages', async (t) => {
    const { context, page } = await newPage('de-DE')
    await page.goto(login())
    t.equal(await page.title(), 'Anmelden · Stamp', 'Accept-Language: de')
    await axe(t, page, 'login (de)', 'login-de.png')
    await page.goto(login({ ui_locales: 'en' }))
    t.equal(await page.title(), 'Sign in · Stamp', 'ui_locales wins')
    await page.goto(`${issuer}/password/forgot?ui_locales=de`)
    await axe(t, page, 'forgot password (de)', 'forgot-de.png')
    await page.goto(`${issuer}/login?request=gone`)
    await axe(t, page, 'error page (de)', 'error-de.png')
    await context.close()

    const en = await newPage()
    await en.page.goto(login())
    await en.page.getByLabel('Username').fill('nora')
    await en.page.getByLabel('Password').fill('nora picked a new one')
    await en.page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await en.page.waitForURL((u) => u.pathname === '/consent' || u.href.startsWith(CB))
    await en.page.goto(`${issuer}/logout`)
    await axe(t, en.page, 'logout confirmation', 'logout.png')
    await en.page.getByRole('button', { name: 'Sign out' }).click()
    await en.page.getByRole('heading', { name: 'You are signed out' }).waitFor()
    await axe(t, en.page, 'signed out')
    await en.page.goto(`${issuer}/password/reset?token=${'x'.repeat(43)}`)
    await axe(t, en.page, 'invalid link')
    await en.page.goto(`${issuer}/authorize?client_id=unknown&response_type=code`)
    await axe(t, en.page, 'authorization error', 'error.png')
    await en.context.close()
  })

  t.test('a branded page stays accessible (colour contrast included)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'stamp-logo-'))
    const logo = join(dir, 'logo.svg')
    writeFileSync(logo, '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32"><rect width="32" height="32" rx="8" fill="#ff9800"/><text x="40" y="23" font-family="sans-serif" font-size="18" fill="#444">Acme</text></svg>')
    const branded = await stampAt({ BRAND_NAME: 'Acme ID', BRAND_PRIMARY_COLOR: '#ff9800', BRAND_LOGO_FILE: logo })
    const c = await createClient(branded.app, { name: 'Acme Notes', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
    const { context, page, csp } = await newPage()
    await page.goto(authorizeURL({ client_id: c.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }, branded.issuer))
    t.equal(await page.title(), 'Sign in · Acme ID')
    const accent = await page.evaluate(`getComputedStyle(document.querySelector('button.primary')).backgroundColor`) as string
    t.not(accent, 'rgb(61, 90, 254)', `the brand colour replaces the default (${accent})`)
    t.ok(await page.evaluate(`document.querySelector('img.logo').naturalWidth > 0`), 'the logo loads under the CSP')
    await axe(t, page, 'login (branded)', 'login-branded.png')
    await page.emulateMedia({ colorScheme: 'dark' })
    await axe(t, page, 'login (branded, dark)', 'login-branded-dark.png')
    t.same(csp, [])
    await context.close()
  })

  t.test('every hosted page was checked', async (t) => {
    t.ok(audited.length >= 20, `${audited.length} pages: ${audited.join(', ')}`)
  })
}
