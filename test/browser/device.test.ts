/**
 * The device flow end to end over real HTTP: openid-client (initiateDeviceAuthorization /
 * pollDeviceAuthorizationGrant) plays the device while headless Chromium approves or denies on
 * /device. Every page is checked with axe-core (run through the DevTools protocol, so the page's
 * strict CSP stays as it is) and for CSP violations; the approval page is saved as docs/device.png.
 */
import t from 'tap'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as oidc from 'openid-client'
import { build, createClient, createTestDatabase, createUser, postForm, testConfig } from '../helper.js'
import { freePort } from '../fixtures/stamp_server.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const ARTIFACTS = join(ROOT, 'test/artifacts')
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

if (!existsSync(CHROMIUM)) {
  t.pass('skipped', { skip: `browser test skipped: no Chromium at ${CHROMIUM}` })
} else {
  const { chromium } = await import('playwright-core')
  type Page = Awaited<ReturnType<Awaited<ReturnType<typeof chromium.launch>>['newPage']>>
  const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const url = await createTestDatabase(t)
  const config = testConfig(url, { ISSUER: issuer })
  config.policy = { ...config.policy, deviceFlow: { ...config.policy.deviceFlow, interval: 1 } }
  const app = await build(t, { config, databaseUrl: url })
  await app.listen({ port, host: '127.0.0.1' })
  const tv = await createClient(app, { name: 'Living Room TV', public: true, grantTypes: [DEVICE_GRANT, 'refresh_token'], scopes: ['openid', 'profile', 'offline_access'], audiences: [] })
  const user = await createUser(app, 'grace')
  const device = await oidc.discovery(new URL(issuer), tv.client.id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] })

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1000, height: 820 } })
  const page = await context.newPage()
  const cspViolations: string[] = []
  page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text()) })

  /** axe-core's serious and critical violations on the current page. */
  async function axe (page: Page): Promise<string[]> {
    await page.evaluate(axeSource)
    const result = await page.evaluate(async () => {
      const { violations } = await (globalThis as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string, impact: string }> }> } }).axe.run()
      return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact}: ${v.id}`)
    })
    return result
  }

  t.test('approve on /device while openid-client polls (with one slow_down)', async (t) => {
    const response = await oidc.initiateDeviceAuthorization(device, { scope: 'openid profile offline_access' })
    t.match(response.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
    t.equal(response.verification_uri, `${issuer}/device`)
    const polled = oidc.pollDeviceAuthorizationGrant(device, response)
    // Another poll just before openid-client's first one: that one comes too early, is answered
    // slow_down, and openid-client adds 5 s, as the server does.
    setTimeout(() => { void postForm(app, '/token', { grant_type: DEVICE_GRANT, device_code: response.device_code, client_id: tv.client.id }) }, 400)

    await page.goto(response.verification_uri_complete!)
    t.equal(await page.title(), 'Connect a device · Stamp')
    t.equal(await page.getByLabel('Code').inputValue(), response.user_code, 'the code is filled in, to be confirmed')
    t.same(await axe(page), [], 'code entry page: no serious axe violations')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'device-entry.png') })
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.waitForURL((u) => u.pathname === '/device/login')
    t.same(await axe(page), [], 'sign-in page: no serious axe violations')
    await page.getByLabel('Username').fill('grace')
    await page.getByLabel('Password').fill(user.password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.waitForURL((u) => u.pathname === '/device/approve')
    t.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Allow Living Room TV on your device?')
    t.ok(await page.getByText('See your username').isVisible(), 'the scopes are listed')
    t.same(await axe(page), [], 'approval page: no serious axe violations')
    await page.screenshot({ path: join(ROOT, 'docs/device.png') })
    await page.getByRole('button', { name: 'Allow' }).click()
    await page.waitForSelector('text=Device connected')
    t.same(await axe(page), [], 'final page: no serious axe violations')

    const tokens = await polled
    t.ok(tokens.access_token)
    t.ok(tokens.refresh_token)
    t.equal(tokens.claims()?.sub, user.user.id, 'an ID token for the user who approved')
    t.equal(tokens.claims()?.preferred_username, 'grace')
    const [{ interval }] = await app.prisma.$queryRawUnsafe<Array<{ interval: number }>>('SELECT "interval" FROM device_authorizations WHERE client_id = $1', tv.client.id)
    t.equal(interval, 6, 'the early poll was answered slow_down, and the interval grew by 5 s')
    const refreshed = await oidc.refreshTokenGrant(device, tokens.refresh_token!)
    t.ok(refreshed.access_token, 'refresh works as usual')
  })

  t.test('deny, with the SSO session from the first approval', async (t) => {
    const response = await oidc.initiateDeviceAuthorization(device, { scope: 'openid' })
    const polled = oidc.pollDeviceAuthorizationGrant(device, response).catch((err: unknown) => err)
    await page.goto(`${issuer}/device`)
    await page.getByLabel('Code').fill(response.user_code.toLowerCase())
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.waitForURL((u) => u.pathname === '/device/approve')
    await page.getByRole('button', { name: 'Cancel' }).click()
    await page.waitForSelector('text=Request denied')
    const err = await polled as { error?: string }
    t.equal(err.error, 'access_denied', 'openid-client surfaces access_denied')
  })

  t.test('an expired code', async (t) => {
    const response = await oidc.initiateDeviceAuthorization(device, { scope: 'openid' })
    await app.prisma.$executeRawUnsafe("UPDATE device_authorizations SET expires_at = now() - interval '1 second' WHERE status = 'pending'")
    const err = await oidc.pollDeviceAuthorizationGrant(device, response).catch((e: unknown) => e) as { error?: string }
    t.equal(err.error, 'expired_token')
    await page.goto(response.verification_uri_complete!)
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.waitForSelector('text=This code has expired')
    t.same(await axe(page), [], 'error page: no serious axe violations')
    t.same(cspViolations, [], 'no CSP violations on any page')
  })
}
