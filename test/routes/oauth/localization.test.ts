/**
 * Hosted pages in the user's language and the operator's brand: `ui_locales` carried from
 * /authorize through login and consent, `Accept-Language` otherwise, English as the fallback;
 * the branded stylesheet and logo served under /assets/ with the pages' strict CSP.
 */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build, createClient, createUser } from '../../helper.js'
import { Browser, authorizeURL } from '../../fixtures/browser.js'

const CB = 'https://app.example/cb'

async function setup (t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}) {
  const app = await build(t, { env })
  const client = await createClient(app, { name: 'Shop', firstParty: false, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid', 'profile'] })
  const user = await createUser(app, 'liese')
  return { app, client, user }
}

t.test('ui_locales=de renders German through login and consent', async (t) => {
  const { app, client, user } = await setup(t)
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid profile', ui_locales: 'fr de-CH' }))
  t.equal(start.res.statusCode, 200)
  t.match(start.res.body, /<html lang="de">/)
  t.match(start.res.body, /<title>Anmelden · Stamp<\/title>/)
  t.match(start.res.body, /<label for="username">Benutzername<\/label>/)
  t.equal(start.res.headers['content-language'], 'de')
  t.match(start.res.body, /<input type="hidden" name="ui_locales" value="de">/, 'the form keeps the language')

  const wrong = await browser.signIn(start.res, 'liese', 'not the password')
  t.equal(wrong.res.statusCode, 401)
  t.match(wrong.res.body, /Benutzername oder Passwort ist falsch/, 'the error is German too')

  const consent = await browser.signIn(wrong.res, 'liese', user.password)
  t.equal(consent.res.statusCode, 200)
  t.match(consent.res.body, /<h1>Shop erlauben\?<\/h1>/)
  t.match(consent.res.body, /Ihre Identität bestätigen/)
  t.match(consent.res.body, /Erlauben<\/button>/)
})

t.test('Accept-Language picks the language when ui_locales does not; an unknown one is English', async (t) => {
  const { app, client } = await setup(t)
  const url = authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' })
  const de = await new Browser(app, undefined, { 'accept-language': 'fr;q=0.9, de;q=0.8, en;q=0.1' }).follow(url)
  t.match(de.res.body, /<html lang="de">/)
  t.match(de.res.body, /Anmelden/)
  const fr = await new Browser(app, undefined, { 'accept-language': 'fr-FR, ja' }).follow(url)
  t.match(fr.res.body, /<html lang="en">/)
  t.match(fr.res.body, /<h1>Sign in<\/h1>/)
  const uiWins = await new Browser(app, undefined, { 'accept-language': 'de' }).follow(url.replace('?', '?ui_locales=en&'))
  t.match(uiWins.res.body, /<html lang="en">/, 'ui_locales wins over Accept-Language')
  const unknown = await new Browser(app).follow(url.replace('?', '?ui_locales=xx-YY&'))
  t.match(unknown.res.body, /<html lang="en">/, 'an unsupported ui_locales falls back to English')
})

t.test('error pages are localized', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ url: '/authorize?client_id=nope&response_type=code', headers: { 'accept-language': 'de' } })
  t.equal(res.statusCode, 400)
  t.match(res.body, /<h1>Anmeldung bei dieser Anwendung nicht möglich<\/h1>/)
  t.match(res.body, /ist bei diesem Server nicht registriert/)
  const expired = await app.inject({ url: '/login?request=missing&ui_locales=de' })
  t.match(expired.body, /Dieser Anmeldelink ist abgelaufen/)
  const out = await app.inject({ url: '/logout', headers: { 'accept-language': 'de-AT' } })
  t.match(out.body, /Sie sind abgemeldet/)
})

t.test('discovery advertises the catalogues (ui_locales_supported)', async (t) => {
  const { app } = await setup(t)
  const doc = (await app.inject({ url: '/.well-known/openid-configuration' })).json()
  t.same(doc.ui_locales_supported, ['en', 'de'])
})

t.test('branding: name, colour and logo file on every page, CSP unchanged in strictness', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stamp-brand-'))
  const logo = join(dir, 'logo.svg')
  writeFileSync(logo, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#e91e63"/></svg>')
  const { app, client } = await setup(t, { BRAND_NAME: 'Acme ID', BRAND_PRIMARY_COLOR: '#E91E63', BRAND_LOGO_FILE: logo })
  const page = await new Browser(app).follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  t.match(page.res.body, /<title>Sign in · Acme ID<\/title>/)
  t.match(page.res.body, /Secured by Acme ID/)
  const css = /<link rel="stylesheet" href="http:\/\/stamp\.test(\/assets\/stamp\.css\?v=[\w-]+)">/.exec(page.res.body)
  const img = /<img class="logo" src="http:\/\/stamp\.test(\/assets\/logo\?v=[\w-]+)" alt="">/.exec(page.res.body)
  t.ok(css && img, 'stylesheet and logo linked')
  const csp = String(page.res.headers['content-security-policy'])
  t.match(csp, /style-src 'self';/)
  t.match(csp, /img-src 'self' data:;/)
  t.notMatch(csp, /unsafe-inline/)

  const sheet = await app.inject({ url: css![1] })
  t.equal(sheet.statusCode, 200)
  t.match(sheet.headers['content-type'], /^text\/css/)
  t.match(sheet.body, /BRAND_PRIMARY_COLOR #e91e63/)
  t.match(sheet.body, /--accent:#[0-9a-f]{6};--accent-ink:#(ffffff|0b0d10)/)
  t.match(sheet.headers['cache-control'], /immutable/)
  const again = await app.inject({ url: css![1], headers: { 'if-none-match': String(sheet.headers.etag) } })
  t.equal(again.statusCode, 304)
  const served = await app.inject({ url: img![1] })
  t.equal(served.headers['content-type'], 'image/svg+xml')
  t.match(served.headers['content-security-policy'], /sandbox/, 'an SVG opened directly runs nothing')
  t.equal((await app.inject({ url: '/assets/nope.css' })).statusCode, 404)
})

t.test('branding: a logo URL joins the CSP img-src', async (t) => {
  const { app } = await setup(t, { BRAND_LOGO_URL: 'https://cdn.example/acme.png' })
  const out = await app.inject({ url: '/logout' })
  t.match(out.body, /<img class="logo" src="https:\/\/cdn\.example\/acme\.png" alt="">/)
  t.match(String(out.headers['content-security-policy']), /img-src 'self' data: https:\/\/cdn\.example;/)
})
