/**
 * Passkeys, TOTP and the account page in a real browser: headless Chromium (Debian's package)
 * with the DevTools protocol's virtual authenticator (ctap2, internal transport, resident keys,
 * user verification). Stamp is served as http://localhost:PORT (WebAuthn refuses IP origins), so
 * its RP ID is `localhost`. Registers a passkey on the account page, signs in with it passwordless
 * and as a second factor, removes it; enrols TOTP and signs in with codes computed here (a reused
 * code refused, a recovery code working once); steps up via acr_values; enrols a passkey at a
 * sign-in that requires MFA; runs axe-core on every
 * page; saves screenshots into test/artifacts/ (and docs/ with STAMP_SCREENSHOTS=1).
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeJwt } from 'jose'
import type { Page } from 'playwright-core'
import { buildApp } from '../../src/app.js'
import { createClient, createTestDatabase, createUser, testConfig } from '../helper.js'
import { authorizeURL } from '../fixtures/browser.js'
import { totp } from '../../src/domain/totp.js'
import { ACR_MULTI_FACTOR } from '../../src/domain/authentication_methods.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const ARTIFACTS = join(ROOT, 'test/artifacts')

/** A full-page screenshot to test/artifacts/, and to docs/ with STAMP_SCREENSHOTS=1 (as the other browser tests). */
async function shot (page: Page, name: string) {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true })
  if (process.env.STAMP_SCREENSHOTS === '1') await page.screenshot({ path: join(ROOT, 'docs', name), fullPage: true })
}

if (!existsSync(CHROMIUM)) {
  t.pass('skipped', { skip: `browser test skipped: no Chromium at ${CHROMIUM}` })
} else {
  const { chromium } = await import('playwright-core')
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

  async function listen (server: Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return (server.address() as AddressInfo).port
  }

  const rp = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>App</title><h1>Signed in</h1>'))
  const rpPort = await listen(rp)
  t.teardown(() => new Promise<void>((resolve) => { rp.closeAllConnections(); rp.close(() => resolve()) }))

  const probe = createServer()
  const port = await listen(probe)
  await new Promise((resolve) => probe.close(resolve))
  const issuer = `http://localhost:${port}`
  const url = await createTestDatabase(t)
  const app = await buildApp({ config: testConfig(url, { ISSUER: issuer, RATE_LIMIT_ENABLED: 'false' }), database: { url, poolMax: 5 }, scheduleKeys: false })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())

  const CB = `http://localhost:${rpPort}/callback`
  const shop = await createClient(app, { name: 'Acme Shop', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
  const kim = await createUser(app, 'kim', 'kims long passphrase 1')
  const lee = await createUser(app, 'lee', 'lees long passphrase 1')

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP localhost 127.0.0.1'],
  })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
  const page = await context.newPage()
  const cspViolations: string[] = []
  page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text()) })
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  })

  /** axe-core finds no serious or critical violation (it runs through CDP, not blocked by the page's CSP). */
  async function accessible (t: Test, p: Page, name: string) {
    await p.evaluate(axeSource)
    const results = await p.evaluate(async () => (globalThis as unknown as { axe: { run: () => Promise<{ violations: Array<{ id: string, impact: string }> }> } }).axe.run())
    const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)
    t.same(bad, [], `${name}: no serious or critical axe violation`)
  }

  async function exchange (callback: string) {
    const code = new URL(callback).searchParams.get('code')
    if (!code) throw new Error(`no code in ${callback}`)
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: shop.basic },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB }),
    })
    return decodeJwt(((await res.json()) as { id_token: string }).id_token)
  }

  const startShop = (extra: Record<string, string> = {}) => page.goto(authorizeURL({ client_id: shop.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', ...extra }, issuer))
  /**
   * The virtual authenticator answers a conditional (autofill) request by itself as soon as the
   * sign-in page loads; while a test types a password, it must not: presence is then not simulated.
   */
  const presence = (enabled: boolean) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled })
  async function password (username: string, pw: string) {
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(pw)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForLoadState()
  }
  const atCallback = () => page.waitForURL((u) => u.href.startsWith(CB))

  t.test('account page: sign in, register a passkey, rename it', async (t) => {
    await page.goto(`${issuer}/account`)
    t.equal(new URL(page.url()).pathname, '/login')
    t.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username webauthn', 'conditional UI on the username field')
    await accessible(t, page, 'login page')
    await password('kim', kim.password)
    t.equal(new URL(page.url()).pathname, '/account')
    await accessible(t, page, 'account page')
    // An empty list reads like the section's intro (left, with room before the next label); a
    // field's hint sits under its field, left-aligned.
    const empty = page.getByText('No passkeys yet.', { exact: true })
    const [note, label] = [await empty.boundingBox(), await page.getByText('Name for the new passkey', { exact: true }).boundingBox()]
    t.ok(note && label && label.y - (note.y + note.height) >= 12, 'the empty-list note does not touch the next label')
    const leftAligned = ['left', 'start'] // `start` is left in this left-to-right page
    // A string, as elsewhere in these tests: the Node typings have no DOM.
    const textAlign = (element: string) => page.evaluate(`getComputedStyle(${element}).textAlign`) as Promise<string>
    t.ok(leftAligned.includes(await textAlign("[...document.querySelectorAll('p')].find((p) => p.textContent === 'No passkeys yet.')")), 'the empty-list note is left-aligned like its section')
    t.ok(leftAligned.includes(await textAlign("document.getElementById('new-password-hint')")), 'the password hint is left-aligned under its field')
    await shot(page, 'account.png')

    await page.getByLabel('Name for the new passkey').fill('Laptop')
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    await page.waitForURL(/done=passkey_added/)
    t.match(await page.locator('#passkeys').innerText(), /Laptop/)
    const stored = await app.secondFactors.summary(kim.user.id)
    t.equal(stored.passkeys.length, 1)
    t.equal(stored.passkeys[0].name, 'Laptop')
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    t.equal(credentials.length, 1)
    t.ok(credentials[0].isResidentCredential, 'a discoverable credential')

    await page.getByLabel('Name', { exact: true }).fill('Work laptop')
    await page.getByRole('button', { name: 'Rename' }).click()
    await page.waitForURL(/done=passkey_renamed/)
    t.match(await page.locator('#passkeys').innerText(), /Work laptop/)
    await shot(page, 'passkey.png')
  })

  t.test('passwordless sign-in with the passkey', async (t) => {
    await context.clearCookies()
    await startShop()
    t.equal(new URL(page.url()).pathname, '/login')
    // Conditional UI (the autofill request the page starts) is answered by the virtual
    // authenticator by itself; without it, the button asks.
    const answered = await page.waitForURL((u) => u.href.startsWith(CB), { timeout: 10_000 }).then(() => true, () => false)
    if (!answered) {
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
      await atCallback()
    }
    const id = await exchange(page.url())
    t.same(id.amr, ['hwk', 'user', 'mfa'], 'a device-bound key with user verification')
    t.equal(id.acr, ACR_MULTI_FACTOR)
    t.ok((await app.secondFactors.summary(kim.user.id)).passkeys[0].lastUsedAt, 'last use recorded')
  })

  t.test('the passkey as the second factor after the password', async (t) => {
    await context.clearCookies()
    await presence(false)
    await startShop()
    await password('kim', kim.password)
    // The password form's answer is the page itself; its script names the page's own address.
    t.equal(new URL(page.url()).pathname, '/login/factor')
    t.ok(new URL(page.url()).searchParams.get('request'), 'the address names the request')
    const methods: string[] = []
    const onRequest = (r: { url(): string, method(): string }) => { if (new URL(r.url()).pathname.startsWith('/login')) methods.push(r.method()) }
    page.on('request', onRequest)
    await page.reload()
    page.off('request', onRequest)
    t.same(methods, ['GET'], 'a reload asks for the page by GET: the password is not posted again')
    await accessible(t, page, 'second-factor page')
    await presence(true)
    await page.getByRole('button', { name: 'Use a passkey' }).click()
    await atCallback()
    const id = await exchange(page.url())
    t.same(id.amr, ['pwd', 'hwk', 'user', 'mfa'])
  })

  const recoveryCodes: string[] = []
  let secret = ''
  t.test('TOTP enrolment on the account page, with recovery codes', async (t) => {
    await page.goto(`${issuer}/account`)
    await page.getByRole('button', { name: 'Set up' }).click()
    t.equal(new URL(page.url()).pathname, '/account/totp')
    t.ok(await page.getByAltText('QR code for your authenticator app').isVisible(), 'the QR code (an SVG rendered by Stamp)')
    await accessible(t, page, 'TOTP enrolment')
    await shot(page, 'totp.png')
    secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '')
    await page.getByLabel('Code from your authenticator app').fill(totp(secret, Date.now()))
    await page.getByRole('button', { name: 'Turn on' }).click()
    await page.waitForLoadState()
    recoveryCodes.push(...(await page.locator('#recovery-codes li').allInnerTexts()))
    t.equal(recoveryCodes.length, 10)
    await accessible(t, page, 'recovery codes')
    await shot(page, 'recovery-codes.png')
    await page.getByRole('button', { name: 'Continue' }).click()
    t.equal(new URL(page.url()).pathname, '/account')
    t.ok((await app.secondFactors.summary(kim.user.id)).totp)
  })

  t.test('TOTP sign-in: a code works, the same code again is refused, a recovery code works once', async (t) => {
    const code = totp(secret, Date.now() + 30_000) // the enrolment used the current step
    await presence(false)
    await context.clearCookies()
    await startShop()
    await password('kim', kim.password)
    await page.getByLabel('Code from your authenticator app').fill(code)
    await page.getByRole('button', { name: 'Continue' }).click()
    await atCallback()
    t.same((await exchange(page.url())).amr, ['pwd', 'otp', 'mfa'])

    await context.clearCookies()
    await startShop()
    await password('kim', kim.password)
    await page.getByLabel('Code from your authenticator app').fill(code)
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.waitForLoadState()
    t.match(await page.getByRole('alert').first().innerText(), /already used/, 'a reused code is refused')
    await shot(page, 'second-factor.png')

    await page.getByText('Use a recovery code').click()
    await page.getByLabel('Recovery code').fill(recoveryCodes[0])
    await page.getByRole('button', { name: 'Use recovery code' }).click()
    await atCallback()
    t.ok(await exchange(page.url()), 'a recovery code signs in')

    await context.clearCookies()
    await startShop()
    await password('kim', kim.password)
    await page.getByText('Use a recovery code').click()
    await page.getByLabel('Recovery code').fill(recoveryCodes[0])
    await page.getByRole('button', { name: 'Use recovery code' }).click()
    await page.waitForLoadState()
    t.equal(new URL(page.url()).pathname, '/login/factor', 'the same recovery code again is refused')
  })

  t.test('remove the passkey on the account page', async (t) => {
    await context.clearCookies()
    await presence(false)
    await page.goto(`${issuer}/account`)
    await password('kim', kim.password)
    await presence(true)
    await page.getByRole('button', { name: 'Use a passkey' }).click()
    await page.waitForURL(/\/account$/)
    await page.getByRole('button', { name: 'Remove Work laptop' }).click()
    await page.waitForURL(/done=passkey_removed/)
    t.equal((await app.secondFactors.summary(kim.user.id)).passkeys.length, 0)
    t.match(await page.getByRole('status').innerText(), /removed/)
    // The authenticator still holds the key; a sign-in with it is now refused.
    await context.clearCookies()
    await presence(true)
    await startShop()
    await page.waitForURL(/error=passkey/)
    t.match(await page.getByRole('alert').first().innerText(), /could not be used/, 'a removed passkey no longer signs in')
    await presence(false)
  })

  t.test('step-up via acr_values: a password-only session enrols a second factor', async (t) => {
    await context.clearCookies()
    await startShop()
    await password('lee', lee.password)
    await atCallback()
    t.same((await exchange(page.url())).amr, ['pwd'])
    await startShop({ acr_values: ACR_MULTI_FACTOR })
    t.equal(new URL(page.url()).pathname, '/login/enrol', 'asked to set up a second factor, not for the password')
    await accessible(t, page, 'enrolment at sign-in')
    const leeSecret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '')
    await page.getByLabel('Code from your authenticator app').fill(totp(leeSecret, Date.now()))
    await page.getByRole('button', { name: 'Turn on' }).click()
    await page.waitForLoadState()
    t.equal(await page.locator('#recovery-codes li').count(), 10)
    await page.getByRole('button', { name: 'Continue' }).click()
    await atCallback()
    const id = await exchange(page.url())
    t.equal(id.acr, ACR_MULTI_FACTOR)
    t.same(id.amr, ['pwd', 'otp', 'mfa'])
  })

  t.test('MFA required and no factor: the user enrols a passkey at sign-in and lands back at the app', async (t) => {
    const mia = await createUser(app, 'mia', 'mias long passphrase 1')
    await app.prisma.user.update({ where: { id: mia.user.id }, data: { mfaRequired: true } })
    await context.clearCookies()
    await presence(false)
    await startShop()
    await password('mia', mia.password)
    t.equal(new URL(page.url()).pathname, '/login/enrol', 'asked to set up a second step')
    const passkeyFirst = await page.locator('h2').allInnerTexts()
    t.same(passkeyFirst, ['Passkey (recommended)', 'Set up an authenticator app'], 'a passkey first, the app second')
    await page.getByRole('button', { name: 'Add a passkey' }).waitFor()
    await accessible(t, page, 'enrolment at sign-in with a passkey')
    await shot(page, 'enrol.png')
    await presence(true)
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    await page.waitForURL(/\/login\/enrol\/passkey$/)
    t.equal(await page.locator('#recovery-codes li').count(), 10, 'recovery codes shown once')
    await page.getByRole('button', { name: 'Continue' }).click()
    await atCallback()
    const id = await exchange(page.url())
    t.same(id.amr, ['pwd', 'hwk', 'user', 'mfa'], 'the password and the new passkey')
    t.equal(id.acr, ACR_MULTI_FACTOR)
    const stored = await app.secondFactors.summary(mia.user.id)
    t.equal(stored.passkeys.length, 1, 'the passkey is stored')
    t.equal(stored.totp, false, 'no authenticator app')
    const events = (await app.auditStore.list({ limit: 20 })).filter((e) => e.subject === mia.user.id).map((e) => e.type)
    t.ok(events.includes('passkey_registered'), 'audited')
    await presence(false)
  })

  t.test('no CSP violation on any page', async (t) => {
    t.same(cspViolations, [])
  })
}
