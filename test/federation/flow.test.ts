/**
 * Federated sign-in end to end over real HTTP: an app's /authorize at Stamp, "Continue with
 * NAME", the upstream's login (node-oidc-provider with its development interactions, or a tiny
 * plain OAuth 2 server), Stamp's callback, the code back at the app and Stamp-signed tokens.
 *
 * @module
 */
import t from 'tap'
import { createServer } from 'node:http'
import { createUser } from '../helper.js'
import { freePort } from '../fixtures/stamp_server.js'
import { hiddenFields, pkce } from '../fixtures/browser.js'
import { APP, BYE, HttpBrowser, UPSTREAM_SECRET, addProvider, assertErrorPage, authorize, continueForm, formAction, linkForm, oidcSetup, setupStamp, startAtStamp, startOAuth2, tokens, upstreamLeg, verifyIdToken } from '../fixtures/federation.js'

/**
 * One Stamp and one upstream for the tests that need nothing of their own (each Stamp costs a
 * database and a boot): distinct upstream logins keep the tests apart.
 */
let sharedSetup: ReturnType<typeof oidcSetup> | undefined
const shared = () => (sharedSetup ??= oidcSetup(t, { domains: ['corp.example'], upstreamLogout: true }))

t.test('OIDC upstream: app → Stamp → upstream login → Stamp → app, Stamp-signed tokens, JIT user', async (t) => {
  const { stamp, client, upstream } = await shared()

  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  t.equal(page.status, 200, 'the login page')
  t.match(page.body, /Continue with Corp IdP/, 'the login page lists the provider')
  const csp = page.headers.get('content-security-policy') ?? ''
  t.ok(csp.includes(upstream.issuer), 'CSP form-action allows the upstream')

  const callback = await upstreamLeg(browser, stamp, page.body, 'corp', 'dave')
  t.ok(callback.searchParams.get('code'), 'the upstream sent a code')
  t.equal(callback.searchParams.get('iss'), upstream.issuer, 'RFC 9207 iss from the upstream')
  const back = await browser.follow(callback.href)
  t.ok(back.location, `redirected to the app (${back.res.status} ${back.res.body.slice(0, 300)})`)
  t.equal(back.location!.origin + back.location!.pathname, APP)
  t.equal(back.location!.searchParams.get('state'), 'app-state')
  const code = back.location!.searchParams.get('code')!

  const res = await tokens(stamp.app, client, code, verifier)
  t.equal(res.statusCode, 200, 'the token endpoint answers')
  const id = await verifyIdToken(stamp, client, res.json().id_token)
  t.match(id.amr, ['fed'], 'amr carries fed')
  t.ok((id.amr as string[]).includes('fed'))
  t.equal(id.nonce, 'app-nonce')
  const user = await stamp.app.usersRepository.findById(String(id.sub))
  t.ok(user, 'the JIT user exists')
  t.equal(user!.email, 'dave@example.com', 'email from the upstream userinfo')
  t.equal(user!.username, 'dave')
  const links = await stamp.app.federation.linksFor(user!.id)
  t.equal(links.length, 1, 'linked to (provider, sub)')
  t.equal(links[0].subject, 'dave')

  // The next sign-in from a fresh browser reuses the link (no second user).
  const again = new HttpBrowser()
  const second = await startAtStamp(again, stamp, client)
  const back2 = await again.follow((await upstreamLeg(again, stamp, second.page.body, 'corp', 'dave')).href)
  const res2 = await tokens(stamp.app, client, back2.location!.searchParams.get('code')!, second.verifier)
  t.equal((await verifyIdToken(stamp, client, res2.json().id_token)).sub, user!.id, 'same user the second time')
})

t.test('state and nonce tampering at the callback are refused with a page, never a 500', async (t) => {
  const { stamp, client } = await shared()
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  const callback = await upstreamLeg(browser, stamp, page.body, 'corp', 'erin')

  const modified = new URL(callback)
  modified.searchParams.set('state', callback.searchParams.get('state')!.slice(0, -2) + 'xx')
  const bad = await browser.request('GET', modified.href)
  assertErrorPage(t, bad, 400, /could not be completed/, false)
  t.match(bad.headers.get('cache-control'), /no-store/)

  const missing = new URL(callback)
  missing.searchParams.delete('state')
  assertErrorPage(t, await browser.request('GET', missing.href), 400, /could not be completed/, false)

  // None of those consumed the real state: the genuine callback still completes.
  const done = await browser.follow(callback.href)
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, 'the untampered callback signs in')
  t.equal((await tokens(stamp.app, client, done.location!.searchParams.get('code')!, verifier)).statusCode, 200)

  assertErrorPage(t, await browser.request('GET', callback.href), 400, /could not be completed/, false)
  t.pass('a replayed callback (state already used) is refused')

  // The callback in another browser (login CSRF: the state is bound to the browser that started).
  const other = await startAtStamp(browser, stamp, client, { prompt: 'login' })
  const otherCallback = await upstreamLeg(browser, stamp, other.page.body, 'corp', 'erin')
  assertErrorPage(t, await new HttpBrowser().request('GET', otherCallback.href), 400, /could not be completed/, false)

  // A callback from another flow delivered with this flow's state: its code was issued for
  // another nonce and PKCE challenge.
  const a = await startAtStamp(browser, stamp, client, { prompt: 'login' })
  const callbackA = await upstreamLeg(browser, stamp, a.page.body, 'corp', 'erin')
  const b = await startAtStamp(browser, stamp, client, { prompt: 'login' })
  const callbackB = await upstreamLeg(browser, stamp, b.page.body, 'corp', 'erin')
  const spliced = new URL(callbackB)
  spliced.searchParams.set('code', callbackA.searchParams.get('code')!)
  const splicedRes = await browser.follow(spliced.href)
  t.notOk(splicedRes.location, 'not sent to the app')
  assertErrorPage(t, splicedRes.res, 502, /refused the sign-in|could not be verified/)

  // An ID Token whose nonce is not the one this flow sent (the stored nonce changed under it).
  const c = await startAtStamp(browser, stamp, client, { prompt: 'login' })
  const callbackC = await upstreamLeg(browser, stamp, c.page.body, 'corp', 'erin')
  const changed = await stamp.app.dbPool.query("UPDATE federation_states SET nonce = 'not-the-nonce' WHERE purpose = 'login'")
  t.ok(changed.rowCount! >= 1)
  const nonceRes = await browser.follow(callbackC.href)
  t.notOk(nonceRes.location, 'not sent to the app')
  assertErrorPage(t, nonceRes.res, 502, /could not be verified/)
})

t.test('the upstream answers error=access_denied: a page with a way back', async (t) => {
  const { stamp, client } = await shared()
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const toUpstream = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, 'corp'))
  const interaction = await browser.follow(toUpstream.headers.get('location')!)
  t.equal(interaction.res.status, 200, 'the upstream login page')
  const isCallback = (u: URL) => u.href.startsWith(`${stamp.issuer}/federation/callback`)
  const aborted = await browser.follow(`${interaction.res.url}/abort`, undefined, isCallback)
  t.equal(aborted.location?.searchParams.get('error'), 'access_denied', 'the upstream refused')
  const res = await browser.request('GET', aborted.location!.href)
  assertErrorPage(t, res, 400, /did not sign you in \(access_denied\)/)
  const back = /href="([^"]*\/login\?request=[^"]+)"/.exec(res.body)![1].replace(/&amp;/g, '&')
  const again = await browser.request('GET', new URL(back, stamp.issuer).href)
  t.equal(again.status, 200, 'the way back leads to the sign-in page')
  t.match(again.body, /Continue with Corp IdP/)
})

t.test('upstream down or not answering: a page, never a 500', async (t) => {
  const hang = createServer(() => { /* never answers */ })
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { hang.closeAllConnections(); hang.close(() => resolve()) }))
  const closed = await freePort()
  const { stamp, client } = await setupStamp(t, { FEDERATION_TIMEOUT_MS: '400' })
  await addProvider(stamp.app, { slug: 'down', displayName: 'Down IdP', issuer: `http://127.0.0.1:${closed}`, clientId: 'stamp', clientSecret: UPSTREAM_SECRET })
  await addProvider(stamp.app, { slug: 'slow', displayName: 'Slow IdP', issuer: `http://127.0.0.1:${(hang.address() as { port: number }).port}`, clientId: 'stamp', clientSecret: UPSTREAM_SECRET })

  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const down = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, 'down'))
  assertErrorPage(t, down, 502, /Down IdP cannot be reached/)

  const started = Date.now()
  const slow = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, 'slow'))
  assertErrorPage(t, slow, 502, /Slow IdP did not answer in time/)
  t.ok(Date.now() - started < 5000, 'the timeout applies')
})

t.test('an email matching a local account is not linked silently; a local sign-in links it', async (t) => {
  const { stamp, client, provider } = await shared()
  const carol = await createUser(stamp.app, 'carol', 'carol has a long passphrase')
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  const callback = await upstreamLeg(browser, stamp, page.body, 'corp', 'carol')
  const linkPage = await browser.follow(callback.href)
  t.notOk(linkPage.location, 'not signed in')
  t.equal(linkPage.res.status, 409)
  t.match(linkPage.res.body, /carol@example\.com/)
  t.match(linkPage.res.body, /Sign in to link Corp IdP/)
  t.same(await stamp.app.federation.linksFor(carol.user.id), [], 'no link yet')
  t.equal(await stamp.app.usersRepository.findByUsername('carol-corp'), null)
  t.equal((await stamp.app.usersRepository.findByEmail('carol@example.com')).length, 1, 'no JIT twin')

  const login = await browser.request('GET', linkForm(linkPage.res.body, stamp.issuer))
  t.equal(login.status, 200)
  t.match(login.body, /will then be linked/, 'the login page says what signing in does')
  const fields = hiddenFields(login.body)
  const done = await browser.follow(`${stamp.issuer}/login`, { ...fields, username: 'carol', password: carol.password })
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, 'signed in locally')
  const local = await tokens(stamp.app, client, done.location!.searchParams.get('code')!, verifier)
  t.notOk(((await verifyIdToken(stamp, client, local.json().id_token)).amr as string[]).includes('fed'), 'a local sign-in')
  const links = await stamp.app.federation.linksFor(carol.user.id)
  t.equal(links.length, 1, 'linked after the local sign-in')
  t.equal(links[0].providerId, provider.id)
  t.equal(links[0].subject, 'carol')

  const fresh = new HttpBrowser()
  const next = await startAtStamp(fresh, stamp, client)
  const straight = await fresh.follow((await upstreamLeg(fresh, stamp, next.page.body, 'corp', 'carol')).href)
  t.equal(straight.location?.origin + (straight.location?.pathname ?? ''), APP, 'the next federated sign-in goes straight through')
  const fed = await verifyIdToken(stamp, client, (await tokens(stamp.app, client, straight.location!.searchParams.get('code')!, next.verifier)).json().id_token)
  t.equal(fed.sub, carol.user.id)
  t.ok((fed.amr as string[]).includes('fed'))
})

t.test('a pending link is dropped when another account signs in', async (t) => {
  const { stamp, client } = await shared()
  const hank = await createUser(stamp.app, 'hank', 'hank has a long passphrase')
  const mallory = await createUser(stamp.app, 'mallory', 'mallory has a long passphrase')
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const linkPage = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp', 'hank')).href)
  t.equal(linkPage.res.status, 409)
  const login = await browser.request('GET', linkForm(linkPage.res.body, stamp.issuer))
  const done = await browser.follow(`${stamp.issuer}/login`, { ...hiddenFields(login.body), username: 'mallory', password: mallory.password })
  t.ok(done.location, 'mallory signed in')
  t.same(await stamp.app.federation.linksFor(mallory.user.id), [], 'mallory got no link')
  t.same(await stamp.app.federation.linksFor(hank.user.id), [], 'hank got no link')
})

t.test('plain OAuth 2 provider (GitHub-like) with claim mapping', async (t) => {
  const { stamp, client } = await shared()
  const gh = await startOAuth2(t)
  await addProvider(stamp.app, {
    slug: 'gh', displayName: 'GitHub', kind: 'oauth2', clientId: 'gh-client', clientSecret: UPSTREAM_SECRET, scope: 'read:user',
    authorizationEndpoint: `${gh.base}/authorize`, tokenEndpoint: `${gh.base}/token`, userinfoEndpoint: `${gh.base}/user`,
    claimMapping: { username: 'login' }, jit: true,
  })
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  t.match(page.body, /Continue with GitHub/)
  const toUpstream = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, 'gh'))
  t.equal(toUpstream.status, 303)
  const back = await browser.follow(toUpstream.headers.get('location')!)
  t.equal(gh.seen.authorize?.get('code_challenge_method'), 'S256', 'PKCE at the upstream')
  t.notOk(gh.seen.authorize?.get('nonce'), 'no nonce for plain OAuth 2')
  t.ok(gh.seen.token?.get('code_verifier'), 'the verifier at the token endpoint')
  t.equal(back.location?.origin + (back.location?.pathname ?? ''), APP, `redirected to the app (${back.res.status} ${/role="alert">([^<]*)/.exec(back.res.body)?.[1]})`)
  const res = await tokens(stamp.app, client, back.location!.searchParams.get('code')!, verifier)
  t.equal(res.statusCode, 200)
  const id = await verifyIdToken(stamp, client, res.json().id_token)
  t.ok((id.amr as string[]).includes('fed'))
  const user = await stamp.app.usersRepository.findById(String(id.sub))
  t.equal(user?.username, 'octo.cat', 'username from `login`')
  t.equal(user?.email, 'octocat@github.example')
  const links = await stamp.app.federation.linksFor(user!.id)
  t.equal(links[0]?.subject, '583231', 'linked on the numeric id')
})

t.test('home-realm discovery: a login_hint in the provider\'s domain goes straight upstream', async (t) => {
  const { stamp, client, upstream } = await shared()
  const browser = new HttpBrowser()
  const { verifier, challenge } = pkce()
  const first = await browser.request('GET', authorize(stamp, client, challenge, { login_hint: 'frank@corp.example' }))
  const toLogin = await browser.request('GET', new URL(first.headers.get('location')!, stamp.issuer).href)
  t.equal(toLogin.status, 303, 'the login page redirects')
  const target = new URL(toLogin.headers.get('location')!)
  t.equal(target.origin, upstream.issuer, 'to the upstream')
  t.equal(target.searchParams.get('login_hint'), 'frank@corp.example', 'with the hint')
  const isCallback = (u: URL) => u.href.startsWith(`${stamp.issuer}/federation/callback`)
  let step = await browser.follow(target.href, undefined, isCallback)
  for (let i = 0; i < 4 && !step.location; i++) {
    const prompt = /name="prompt" value="(\w+)"/.exec(step.res.body)?.[1]
    step = await browser.follow(formAction(step.res.body, step.res.url), prompt === 'login' ? { prompt, login: 'frank', password: 'x' } : { prompt: prompt ?? 'consent' }, isCallback)
  }
  const back = await browser.follow(step.location!.href)
  t.equal(back.location?.origin + (back.location?.pathname ?? ''), APP)
  t.equal((await tokens(stamp.app, client, back.location!.searchParams.get('code')!, verifier)).statusCode, 200)
})

t.test('logout ends the upstream session too (RP-initiated logout there), then back to the app', async (t) => {
  const { stamp, client } = await shared()
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  const back = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp', 'gina')).href)
  const idToken = (await tokens(stamp.app, client, back.location!.searchParams.get('code')!, verifier)).json().id_token as string
  const logout = await browser.request('GET', `${stamp.issuer}/logout?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: 'bye-1' })}`)
  t.equal(logout.status, 303, 'Stamp signs out')
  const target = new URL(logout.headers.get('location')!)
  t.match(target.pathname, /session\/end/, `to the upstream end_session_endpoint (${target.href})`)
  t.ok(target.searchParams.get('id_token_hint'), 'with the upstream id_token')
  const confirm = await browser.follow(target.href)
  t.equal(confirm.res.status, 200, 'the upstream asks to confirm')
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.res.body)?.[1]
  t.ok(xsrf)
  const done = await browser.follow(formAction(confirm.res.body, confirm.res.url), { xsrf: xsrf!, logout: 'yes' })
  t.equal(done.location?.href, `${BYE}?state=bye-1`, 'back at the app after both logouts')
})

t.test('plain OAuth 2 provider failing after the redirect back: pages, never a 500', async (t) => {
  const { stamp, client } = await setupStamp(t, { FEDERATION_TIMEOUT_MS: '400' })
  const gh = await startOAuth2(t)
  const endpoints = { authorizationEndpoint: `${gh.base}/authorize`, tokenEndpoint: `${gh.base}/token`, userinfoEndpoint: `${gh.base}/user` }
  await addProvider(stamp.app, { slug: 'gh', displayName: 'GitHub', kind: 'oauth2', clientId: 'gh-client', clientSecret: UPSTREAM_SECRET, ...endpoints, jit: true })
  await addProvider(stamp.app, { slug: 'closed', displayName: 'Closed', kind: 'oauth2', clientId: 'gh-client', clientSecret: UPSTREAM_SECRET, ...endpoints, jit: false })
  const attempt = async (slug: string) => {
    const browser = new HttpBrowser()
    const { page } = await startAtStamp(browser, stamp, client)
    const toUpstream = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, slug))
    return browser.follow(toUpstream.headers.get('location')!)
  }

  gh.mode.hang = true
  const started = Date.now()
  const hung = await attempt('gh')
  assertErrorPage(t, hung.res, 502, /GitHub did not answer in time/)
  t.ok(Date.now() - started < 5000, 'the token request timed out')
  gh.mode.hang = false

  gh.mode.user = { status: 500, body: '{"message":"boom"}' }
  assertErrorPage(t, (await attempt('gh')).res, 502, /GitHub refused the sign-in/)
  gh.mode.user = { status: 200, body: 'not json' }
  assertErrorPage(t, (await attempt('gh')).res, 502, /could not be verified/)
  gh.mode.user = { status: 200, body: '[1, 2]' }
  assertErrorPage(t, (await attempt('gh')).res, 502, /could not be verified/)
  gh.mode.user = { status: 200, body: '{"login":"no-id"}' }
  assertErrorPage(t, (await attempt('gh')).res, 400, /did not tell us who you are/)
  gh.mode.user = undefined

  assertErrorPage(t, (await attempt('closed')).res, 403, /not created automatically/)
  t.equal((await stamp.app.usersRepository.findByEmail('octocat@github.example')).length, 0, 'no user was created')

  await stamp.app.identityProviders.update('gh', { enabled: false }, { actor: 'test' })
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  t.notMatch(page.body, /Continue with GitHub/, 'a disabled provider is not listed')
  const forged = await browser.request('POST', `${stamp.issuer}/federation/start`, { ...continueForm(page.body, 'closed'), provider: 'gh' })
  assertErrorPage(t, forged, 400, /turned off/)
})

t.test('an upstream error code is shown sanitized, and a callback without any state is refused', async (t) => {
  const { stamp, client } = await shared()
  const browser = new HttpBrowser()
  const { page } = await startAtStamp(browser, stamp, client)
  const toUpstream = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(page.body, 'corp'))
  const state = new URL(toUpstream.headers.get('location')!).searchParams.get('state')!
  const res = await browser.request('GET', `${stamp.issuer}/federation/callback?${new URLSearchParams({ state, error: '<script>alert(1)</script>', error_description: '<b>evil</b>' })}`)
  assertErrorPage(t, res, 400, /did not sign you in \(error\)/)
  t.notMatch(res.body, /<script>alert|<b>evil/, 'no upstream markup')
  assertErrorPage(t, await browser.request('GET', `${stamp.issuer}/federation/callback?error=access_denied`), 400, /could not be completed/, false)
  assertErrorPage(t, await browser.request('GET', `${stamp.issuer}/federation/callback`), 400, /could not be completed/, false)
})

t.test('a linked user who was disabled is refused with a page', async (t) => {
  const { stamp, client } = await shared()
  const first = new HttpBrowser()
  const a = await startAtStamp(first, stamp, client)
  const back = await first.follow((await upstreamLeg(first, stamp, a.page.body, 'corp', 'ivan')).href)
  const id = await verifyIdToken(stamp, client, (await tokens(stamp.app, client, back.location!.searchParams.get('code')!, a.verifier)).json().id_token)
  await stamp.app.usersRepository.update(String(id.sub), { disabled: true })
  const second = new HttpBrowser()
  const b = await startAtStamp(second, stamp, client)
  const refused = await second.follow((await upstreamLeg(second, stamp, b.page.body, 'corp', 'ivan')).href)
  t.notOk(refused.location, 'not sent to the app')
  assertErrorPage(t, refused.res, 403, /Your account is disabled/)
})
