import t from 'tap'
import { consentPage, errorPage, escapeHTML, loginPage, logoutConfirmPage, signedOutPage, type PageContext } from '../../../src/routes/oauth/views.js'

const EVIL = `"><script>alert('x')</script>&`
const ctx = (locale: 'en' | 'de' = 'en', productName = 'Stamp'): PageContext => ({
  locale, issuer: 'https://id.example', branding: { productName, stylesheet: '/assets/stamp.css?v=abc' },
})

t.test('escapeHTML', async (t) => {
  t.equal(escapeHTML(EVIL), '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;')
  t.equal(escapeHTML(undefined), '')
})

t.test('every interpolated value is escaped', async (t) => {
  const pages = [
    loginPage(ctx('en', EVIL), { action: '/login', requestId: EVIL, csrf: EVIL, clientName: EVIL, username: EVIL, error: EVIL, links: [{ href: EVIL, text: EVIL }] }),
    consentPage(ctx('en', EVIL), { action: '/consent', requestId: EVIL, csrf: EVIL, clientName: EVIL, clientHost: EVIL, username: EVIL, scopes: [EVIL, 'openid'] }),
    logoutConfirmPage(ctx('de', EVIL), { action: '/logout', csrf: EVIL, clientName: EVIL, fields: { state: EVIL } }),
    errorPage(ctx('en', EVIL), EVIL, EVIL),
  ]
  for (const page of pages) {
    t.notMatch(page, /<script/i)
    t.notMatch(page, /"><script/)
    t.notMatch(page, /<style/, 'no inline stylesheet')
    t.notMatch(page, / style=/, 'no style attributes')
    t.match(page, /<link rel="stylesheet" href="https:\/\/id\.example\/assets\/stamp\.css\?v=abc">/)
  }
  t.match(pages[1], /Confirm who you are/)
  t.match(pages[1], /Access “&quot;&gt;&lt;script/, 'an unknown scope is named, escaped')
  t.match(pages[0], /<label for="username">Username<\/label>/, 'labelled inputs')
  t.match(pages[0], /autocomplete="current-password"/)
})

t.test('pages are rendered in the context locale with the brand name', async (t) => {
  const de = loginPage(ctx('de', 'Acme ID'), { action: '/login', requestId: 'r', csrf: 'c', clientName: 'Shop' })
  t.match(de, /<html lang="de">/)
  t.match(de, /<title>Anmelden · Acme ID<\/title>/)
  t.match(de, /<label for="username">Benutzername<\/label>/)
  t.match(de, /um mit <strong>Shop<\/strong> fortzufahren/)
  t.match(de, /Geschützt durch Acme ID/)
  t.match(de, /<span class="mark">A<\/span>/, 'the initial of the product name without a logo')
  const en = signedOutPage(ctx('en'))
  t.match(en, /<html lang="en">/)
  t.match(en, /You are signed out/)
  const logo = signedOutPage({ ...ctx('en'), branding: { productName: 'Acme', stylesheet: '/s.css', logo: '/assets/logo?v=1' } })
  t.match(logo, /<img class="logo" src="https:\/\/id\.example\/assets\/logo\?v=1" alt="">/)
})
