/**
 * A real browser: headless Chromium (Debian's package) driven by playwright-core signs in through
 * the hosted page for app A, lands on A's redirect URI with a code, then opens app B's
 * authorization URL and gets a code without seeing the form (single sign-on). Also checks that
 * the page's CSP lets the post-login redirect through, and saves a screenshot of the login page.
 */
import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../src/app.js'
import { createClient, createTestDatabase, createUser, testConfig } from '../helper.js'
import { authorizeURL, pkce } from '../fixtures/browser.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '../artifacts')

if (!existsSync(CHROMIUM)) {
  t.pass('skipped', { skip: `browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)` })
} else {
  const { chromium } = await import('playwright-core')

  async function listen (server: Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return (server.address() as AddressInfo).port
  }

  // The relying parties: a tiny server that records the codes it receives and exchanges nothing.
  const received: URL[] = []
  const rp = createServer((req, res) => {
    received.push(new URL(req.url!, 'http://127.0.0.1')) // also the browser's /favicon.ico
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>App</title><h1>Signed in</h1>')
  })
  const rpPort = await listen(rp)
  t.teardown(() => new Promise<void>((resolve) => { rp.closeAllConnections(); rp.close(() => resolve()) }))

  // Stamp itself, listening; the issuer must name the port, so pick it first.
  const probe = createServer()
  const port = await listen(probe)
  await new Promise((resolve) => probe.close(resolve))
  const issuer = `http://127.0.0.1:${port}`
  const url = await createTestDatabase(t)
  const app = await buildApp({ config: testConfig(url, { ISSUER: issuer }), database: { url, poolMax: 5 }, scheduleKeys: false })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())

  const A_CB = `http://127.0.0.1:${rpPort}/a/callback`
  const B_CB = `http://127.0.0.1:${rpPort}/b/callback`
  const a = await createClient(app, { name: 'Acme Dashboard', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [A_CB], scopes: ['openid', 'profile'] })
  const b = await createClient(app, { name: 'Acme Billing', public: true, firstParty: true, grantTypes: ['authorization_code'], redirectUris: [B_CB], scopes: ['openid'] })
  const grace = await createUser(app, 'grace')

  // launch() starts Chromium with a fresh temporary profile of its own, removed on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())

  t.test('sign in through the hosted page, then single sign-on into a second app', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } })
    const page = await context.newPage()
    const violations: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })

    await page.goto(authorizeURL({ client_id: a.client.id, redirect_uri: A_CB, response_type: 'code', scope: 'openid profile', state: 'state-a' }, issuer))
    t.equal(new URL(page.url()).pathname, '/login', 'the hosted login page')
    t.equal(await page.title(), 'Sign in · Stamp')
    t.ok(await page.getByLabel('Username').isVisible(), 'inputs have accessible labels')
    t.ok(await page.getByLabel('Password').isVisible())
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'login.png') })
    await page.setViewportSize({ width: 390, height: 760 })
    await page.screenshot({ path: join(ARTIFACTS, 'login-mobile.png') })
    await page.setViewportSize({ width: 1100, height: 760 })

    await page.getByLabel('Username').fill('grace')
    await page.getByLabel('Password').fill('wrong password')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForSelector('[role=alert]')
    t.match(await page.locator('[role=alert]').innerText(), /Incorrect username or password/)
    await page.screenshot({ path: join(ARTIFACTS, 'login-error.png') })

    await page.getByLabel('Password').fill(grace.password)
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(A_CB)),
      page.getByRole('button', { name: 'Sign in', exact: true }).click(),
    ])
    const landedA = new URL(page.url())
    t.ok(landedA.searchParams.get('code'), 'app A received a code')
    t.equal(landedA.searchParams.get('state'), 'state-a')
    t.equal(landedA.searchParams.get('iss'), issuer)
    const cookies = await context.cookies(issuer)
    const session = cookies.find((c) => c.name === 'stamp_session')
    t.ok(session?.httpOnly, 'session cookie is HttpOnly')
    t.equal(session?.sameSite, 'Lax')

    const { challenge } = pkce()
    const responses: number[] = []
    page.on('response', (res) => { if (res.url().startsWith(issuer)) responses.push(res.status()) })
    await page.goto(authorizeURL({ client_id: b.client.id, redirect_uri: B_CB, response_type: 'code', scope: 'openid', state: 'state-b', code_challenge: challenge, code_challenge_method: 'S256' }, issuer))
    const landedB = new URL(page.url())
    t.ok(page.url().startsWith(B_CB), 'app B reached without the form')
    t.ok(landedB.searchParams.get('code'), 'app B received a code')
    t.equal(landedB.searchParams.get('state'), 'state-b')
    t.notOk(responses.includes(200), 'no Stamp page was rendered on the way')
    t.same(violations, [], 'no CSP violations')
    t.same(received.filter((u) => u.searchParams.has('code')).map((u) => u.pathname), ['/a/callback', '/b/callback'], 'the relying party saw both callbacks')
    await context.close()
  })
}
