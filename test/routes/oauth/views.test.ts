import t from 'tap'
import { consentPage, errorPage, escapeHTML, loginPage, logoutConfirmPage } from '../../../src/routes/oauth/views.js'

const EVIL = `"><script>alert('x')</script>&`

t.test('escapeHTML', async (t) => {
  t.equal(escapeHTML(EVIL), '&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;')
  t.equal(escapeHTML(undefined), '')
})

t.test('every interpolated value is escaped', async (t) => {
  const pages = [
    loginPage({ nonce: 'n', action: '/login', requestId: EVIL, csrf: EVIL, clientName: EVIL, username: EVIL, error: EVIL }),
    consentPage({ nonce: 'n', action: '/consent', requestId: EVIL, csrf: EVIL, clientName: EVIL, username: EVIL, scopes: [EVIL, 'openid'] }),
    logoutConfirmPage({ nonce: 'n', action: '/logout', csrf: EVIL, clientName: EVIL, fields: { state: EVIL } }),
    errorPage('n', EVIL, EVIL),
  ]
  for (const page of pages) {
    t.notMatch(page, /<script/i)
    t.notMatch(page, /"><script/)
    t.match(page, /<style nonce="n">/)
  }
  t.match(pages[1], /Confirm who you are/)
  t.match(pages[0], /<label for="username">Username<\/label>/, 'labelled inputs')
  t.match(pages[0], /autocomplete="current-password"/)
})
