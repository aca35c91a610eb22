/**
 * Swagger UI runs a megabyte of third-party script on the login origin: it is off unless
 * API_DOCS=true, and then served under a strict CSP that no other origin may frame. The OpenAPI
 * document stays available either way.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { build } from '../helper.js'

t.test('by default there is no UI, only the OpenAPI document', async (t) => {
  const app = await build(t)
  for (const url of ['/docs', '/docs/', '/docs/static/index.html', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js']) {
    t.equal((await app.inject(url)).statusCode, 404, `${url} is not served`)
  }
  const json = await app.inject('/docs/json')
  t.equal(json.statusCode, 200)
  t.equal(json.json().openapi, '3.1.0')
  t.ok(json.json().paths['/admin/clients'], 'the admin API is described')
})

t.test('API_DOCS=true serves the UI with a strict CSP and frame-ancestors none', async (t) => {
  const app = await build(t, { env: { API_DOCS: 'true' } })
  const page = await app.inject('/docs')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  for (const url of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js', '/docs/json']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
    const csp = String(res.headers['content-security-policy'])
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]))
    t.equal(directives['default-src'], "'none'", `${url}: default-src 'none'`)
    t.equal(directives['script-src'], "'self'", `${url}: scripts from this origin only, no inline script`)
    t.equal(directives['frame-ancestors'], "'none'", `${url}: never framed`)
    t.equal(directives['connect-src'], "'self'", `${url}: fetches only this origin (the OpenAPI document)`)
    t.notMatch(csp, /unsafe-(inline|eval)|https:|validator\.swagger\.io/, `${url}: nothing broader`)
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.equal(res.headers['x-content-type-options'], 'nosniff')
  }
  const initializer = (await app.inject('/docs/static/swagger-initializer.js')).body
  t.notMatch(initializer, /validator\.swagger\.io/, 'no third-party validator badge')
})

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
t.test('the UI works under that CSP in a real browser', { skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
  const { chromium } = await import('playwright-core')
  const app = await build(t, { env: { API_DOCS: 'true' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const violations: string[] = []
  const offOrigin: string[] = []
  page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })
  page.on('request', (req) => { if (!req.url().startsWith(`http://127.0.0.1:${port}/`) && !req.url().startsWith('data:')) offOrigin.push(req.url()) })
  await page.goto(`http://127.0.0.1:${port}/docs`)
  await page.locator('.swagger-ui .info .title').waitFor({ timeout: 15_000 })
  t.match(await page.locator('.swagger-ui .info .title').innerText(), /Stamp/, 'the document is rendered')
  t.ok(await page.locator('.opblock').count() > 0, 'operations are listed')
  t.strictSame(violations, [], 'no CSP violation')
  t.strictSame(offOrigin, [], 'no request leaves the origin')
})
