/**
 * A second Stamp as the upstream identity provider, end to end over real HTTP: the upstream is
 * its own server process (dist/server.js) on its own database and loopback port, set up with the
 * CLI as docs/federation.md's "A second Stamp" says (a confidential client for the downstream
 * Stamp, a user); the downstream Stamp knows it by its issuer only (discovery). The app signs in
 * at the downstream, "Continue with HQ" leads to the upstream's own login and consent pages,
 * the downstream creates the user just in time and issues its own tokens (`amr` `fed`); the
 * downstream logout then ends the upstream session too, through the upstream Stamp's
 * end_session_endpoint (RP-initiated logout), and returns to the app.
 *
 * @module
 */
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose'
import { createClient, createTestDatabase, postForm } from '../helper.js'
import { hiddenFields, pkce } from '../fixtures/browser.js'
import { continueForm, formAction, HttpBrowser } from '../fixtures/federation.js'
import { freePort, SERVER, stamp as cli, startServer } from '../fixtures/process.js'
import { startStamp } from '../fixtures/stamp_server.js'
import { generateKEKValue } from '../../src/crypto/kek.js'

const APP = 'https://app.example/cb'
const BYE = 'https://app.example/bye'
const PASSWORD = 'uma has a long passphrase'

t.test('a second Stamp as the upstream: sign-in, JIT, tokens, upstream logout', async (t) => {
  // The downstream first: the upstream's client registration names its callback.
  const down = await startStamp(t, { FEDERATION_ALLOW_LOOPBACK: 'true' })
  const app = await createClient(down.app, {
    name: 'The App', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [APP], postLogoutRedirectUris: [BYE], scopes: ['openid', 'profile', 'email'],
  })

  // The upstream Stamp: another process, database, key-encryption key and port.
  const port = await freePort()
  const upIssuer = `http://127.0.0.1:${port}`
  const env = { DATABASE_URL: await createTestDatabase(t), KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-upstream-')), ISSUER: upIssuer, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }
  const user = await cli(['user', 'create', '--username', 'uma', '--password-stdin', '--email', 'uma@hq.example', '--json'], env, PASSWORD + '\n')
  t.equal(user.code, 0, user.stderr)
  const registered = await cli(['client', 'create', '--name', 'Downstream Stamp', '--grant', 'authorization_code',
    '--redirect-uri', `${down.issuer}/federation/callback`, '--post-logout-redirect-uri', `${down.issuer}/federation/logout/done`,
    '--scope', 'openid email profile', '--json'], env)
  t.equal(registered.code, 0, registered.stderr)
  const { client_id: clientId, client_secret: clientSecret } = JSON.parse(registered.stdout) as { client_id: string, client_secret: string }
  const server = await startServer([process.execPath, SERVER], { ...env, LOG_LEVEL: 'info' }, { timeoutMs: 60_000 })
  t.teardown(() => server.stop('SIGKILL'))

  await down.app.identityProviders.create({ slug: 'hq', displayName: 'HQ', issuer: upIssuer, clientId, clientSecret, jit: true, upstreamLogout: true }, { actor: 'test' })

  // The app's authorization request at the downstream, then "Continue with HQ".
  const browser = new HttpBrowser()
  const { verifier, challenge } = pkce()
  const q = new URLSearchParams({ client_id: app.client.id, redirect_uri: APP, response_type: 'code', scope: 'openid profile email', state: 'app-state', nonce: 'app-nonce', code_challenge: challenge, code_challenge_method: 'S256' })
  const loginPage = (await browser.follow(`${down.issuer}/authorize?${q}`)).res
  t.match(loginPage.body, /Continue with HQ/, 'the downstream login page lists the upstream Stamp')
  const start = await browser.request('POST', `${down.issuer}/federation/start`, continueForm(loginPage.body, 'hq'))
  t.equal(start.status, 303, `sent upstream (${start.body.slice(0, 200)})`)
  const toUpstream = new URL(start.headers.get('location')!)
  t.equal(toUpstream.origin + toUpstream.pathname, `${upIssuer}/authorize`, 'to the upstream\'s authorization endpoint, found by discovery')
  t.equal(toUpstream.searchParams.get('code_challenge_method'), 'S256')
  t.ok(toUpstream.searchParams.get('nonce'), 'with a nonce')

  // At the upstream Stamp: its own login page, then its consent page (the downstream is a third party there).
  const isCallback = (u: URL) => u.href.startsWith(`${down.issuer}/federation/callback`)
  const upLogin = await browser.follow(toUpstream.href, undefined, isCallback)
  t.equal(upLogin.res.status, 200, 'the upstream Stamp\'s login page')
  t.match(upLogin.res.body, /Downstream Stamp/, 'naming the downstream as the client')
  const consent = await browser.follow(formAction(upLogin.res.body, upLogin.res.url), { ...hiddenFields(upLogin.res.body), username: 'uma', password: PASSWORD }, isCallback)
  t.equal(consent.res.status, 200, `the upstream consent page (${consent.res.body.slice(0, 300)})`)
  t.match(consent.res.body, /name="decision" value="allow"/)
  const back = await browser.follow(formAction(consent.res.body, consent.res.url), { ...hiddenFields(consent.res.body), decision: 'allow' }, isCallback)
  t.ok(back.location && isCallback(back.location), 'the upstream redirects to the downstream callback')
  t.equal(back.location!.searchParams.get('iss'), upIssuer, 'RFC 9207 iss from the upstream Stamp')

  // Back at the downstream: JIT user, code to the app, downstream-signed tokens.
  const done = await browser.follow(back.location!.href)
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, `redirected to the app (${done.res.status} ${/role="alert">([^<]*)/.exec(done.res.body)?.[1]})`)
  t.equal(done.location!.searchParams.get('state'), 'app-state')
  const res = await postForm(down.app, '/token', { grant_type: 'authorization_code', code: done.location!.searchParams.get('code')!, redirect_uri: APP, code_verifier: verifier }, { authorization: app.basic })
  t.equal(res.statusCode, 200, 'the app exchanged the code')
  const downJWKS = createLocalJWKSet((await down.app.inject('/jwks')).json())
  const { payload: id } = await jwtVerify(res.json().id_token, downJWKS, { issuer: down.issuer, audience: app.client.id })
  t.ok((id.amr as string[]).includes('fed'), 'amr carries fed')
  t.equal(id.nonce, 'app-nonce')
  const local = await down.app.usersRepository.findById(String(id.sub))
  t.equal(local?.email, 'uma@hq.example', 'the JIT user has the upstream email')
  t.equal(local?.username, 'uma', 'and its username')
  const upstreamUser = JSON.parse(user.stdout) as { id: string }
  t.same((await down.app.federation.linksFor(local!.id)).map((l) => l.subject), [upstreamUser.id], 'linked to the upstream Stamp\'s sub')
  t.not(id.sub, upstreamUser.id, 'the downstream has its own subject')

  // Logout at the downstream ends the upstream session too (RP-initiated logout there).
  const logout = await browser.request('GET', `${down.issuer}/logout?${new URLSearchParams({ id_token_hint: res.json().id_token, post_logout_redirect_uri: BYE, state: 'bye-1' })}`)
  t.equal(logout.status, 303, 'the downstream signs out')
  const endSession = new URL(logout.headers.get('location')!)
  const upDiscovery = await (await fetch(`${upIssuer}/.well-known/openid-configuration`)).json() as { end_session_endpoint: string }
  t.equal(endSession.origin + endSession.pathname, upDiscovery.end_session_endpoint, 'to the upstream Stamp\'s end_session_endpoint')
  const hint = endSession.searchParams.get('id_token_hint')
  t.ok(hint, 'with the upstream ID Token as the hint')
  t.equal(decodeJwt(hint!).iss, upIssuer, 'an ID Token the upstream issued')
  t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${down.issuer}/federation/logout/done`)
  // The hint names the upstream session this browser holds, so the upstream Stamp logs out at once (no confirmation page).
  const step = await browser.follow(endSession.href, undefined, (u) => u.origin !== upIssuer && u.origin !== down.issuer)
  t.equal(step.location?.href, `${BYE}?state=bye-1`, `back at the app after both logouts (${step.res.status} ${step.res.body.slice(0, 300)})`)

  // The upstream session is gone: the next authorization request there shows its login page.
  const again = await browser.follow(toUpstream.href, undefined, isCallback)
  t.notOk(again.location, 'no silent sign-in at the upstream')
  t.match(again.res.body, /name="password"/, 'the upstream login page again')
})
