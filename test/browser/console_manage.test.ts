/**
 * The admin console manages what issues 13 and 15 added to the admin API, in a real browser
 * (Debian's Chromium, playwright-core) against a real Stamp on loopback with a real SMTP server:
 *
 * - registers a private_key_jwt client with an inline JWKS in the UI, then authenticates as it
 *   at /token with an assertion signed here (client_credentials), and moves it to FAPI 2.0;
 * - registers a DPoP-bound client: /token refuses it without a proof and binds its token with one;
 * - shows a user's factors, removes their TOTP authenticator, and finds `totp_removed` (with the
 *   acting admin) in the audit trail; the reset of all factors needs the username typed;
 * - sends a password-reset mail (it arrives with a working link);
 * - creates an invitation (link shown once, also mailed) and signs up with it at /signup
 *   (SIGNUP=invite), withdraws another;
 * - axe-core (no serious or critical violation) on every new view; screenshots at 1280×800 and
 *   390×844 to test/artifacts/console/ (and docs/console/ with STAMP_SCREENSHOTS=1).
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { createUser } from '../helper.js'
import { startStamp } from '../fixtures/stamp_server.js'
import { CHROMIUM, hasChromium, launchChromium, seriousViolations, watchPage } from '../fixtures/chromium.js'
import { settled, settledAfter, shoot, signInToConsole } from '../fixtures/console_pages.js'
import { linkIn, startSMTPServer } from '../fixtures/smtp_server.js'
import { assertion, clientKey, jwksOf } from '../fixtures/client_keys.js'
import { dpopKey, proof } from '../fixtures/dpop.js'
import { consoleBuildDir } from '../../src/routes/console/assets.js'
import { JWT_BEARER_ASSERTION } from '../../src/domain/client_assertion.js'
import { totp } from '../../src/domain/totp.js'
import { prismaFactorStore } from '../../src/storage/prisma/factors.js'

interface PageElement { textContent: string | null, getAttribute (name: string): string | null }
declare const document: { querySelector (selector: string): PageElement | null, activeElement: PageElement | null }

if (!hasChromium()) {
  t.pass('skipped', { skip: `browser test skipped: no Chromium at ${CHROMIUM}` })
} else if (!existsSync(join(consoleBuildDir(), 'index.html'))) {
  t.fail('the console is not built: run npm run build')
} else {
  const smtp = await startSMTPServer(t)
  const stamp = await startStamp(t, { SMTP_URL: smtp.url, SIGNUP: 'invite' })
  const { app, issuer } = stamp
  const admin = await createUser(app, 'ada', 'a long admin passphrase', ['stamp:admin'])
  const tina = await createUser(app, 'tina')
  const rhea = await createUser(app, 'rhea')
  // Tina has a confirmed TOTP authenticator, recovery codes and a (stored) passkey.
  const enrolment = await app.secondFactors.beginTOTP(tina.user)
  await app.secondFactors.confirmTOTP(tina.user.id, totp(enrolment!.secret, Date.now()))
  await app.secondFactors.regenerateRecoveryCodes(tina.user.id)
  await prismaFactorStore(app.prisma).addPasskey({ id: 'tina-security-key', userId: tina.user.id, publicKey: new Uint8Array([1, 2, 3]), signCount: 0, backupEligible: false, backupState: false, transports: ['usb', 'nfc'], name: 'YubiKey' })
  await app.consents.grant(tina.user.id, 'photos', ['openid', 'photos:read'])

  const browser = await launchChromium(t)
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  const { cspViolations, pageErrors } = watchPage(page)

  async function axe (p: Page, label: string) {
    t.same(await seriousViolations(p), [], `axe: no serious or critical violation (${label})`)
  }
  /** POSTs a form to the real listener (DPoP's htu is the URL as the client sees it). */
  async function post (path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) })
    return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
  }
  const auditOf = async (type: string, subject?: string) => app.auditStore.list({ limit: 20, type, subject })

  await t.test('signs in', async (t) => {
    await signInToConsole(page, issuer, admin)
    t.equal(await page.locator('main h1').textContent(), 'Overview')
    t.ok(await page.getByRole('link', { name: 'Invitations' }).count(), 'the navigation has the invitations page')
  })

  await t.test('a private_key_jwt client with an inline JWKS, used with a signed assertion', async (t) => {
    const key = await clientKey('ES256', 'ledger-key-1')
    await page.goto(`${issuer}/console/clients`)
    await settled(page)
    await page.getByRole('button', { name: 'Register a client' }).click()
    const dialog = page.getByRole('dialog', { name: 'Register a client' })
    await dialog.getByLabel('Name').fill('Ledger')
    await dialog.getByLabel('Client ID (optional)').fill('ledger')
    await dialog.getByLabel('Scopes').fill('ledger:read')
    await dialog.getByLabel('Token endpoint authentication').selectOption('private_key_jwt')
    t.match(await dialog.getByText(/signs a JWT assertion \(RFC 7523\)/).count(), 1, 'the method is explained')

    // Errors first: the console's own JSON check, then the API's refusal, each focused.
    await dialog.getByLabel('JWKS (public keys, JSON)').fill('{"keys": [')
    await dialog.getByRole('button', { name: 'Register' }).click()
    const alert = dialog.getByRole('alert')
    t.match(await alert.textContent(), 'JWKS is not valid JSON', 'malformed JSON is refused before any call')
    t.equal(await page.evaluate(() => document.activeElement?.getAttribute('role')), 'alert', 'the error takes the focus')
    await dialog.getByLabel('JWKS (public keys, JSON)').fill('')
    await dialog.getByRole('button', { name: 'Register' }).click()
    await dialog.getByRole('alert').filter({ hasText: 'needs the client\'s public keys' }).waitFor()
    t.match(await dialog.getByRole('alert').textContent(), /private_key_jwt needs the client's public keys: jwks or jwks_uri \(HTTP 400, invalid_request\)/, 'the API\'s error_description is shown')

    await dialog.getByLabel('JWKS (public keys, JSON)').fill(JSON.stringify(jwksOf(key), null, 2))
    await axe(page, 'register dialog, private_key_jwt')
    await shoot(page, 'client-create')
    await dialog.getByRole('button', { name: 'Register' }).click()
    const created = page.getByRole('dialog', { name: 'Client registered' })
    await created.waitFor()
    t.equal(await created.getByTestId('created-client-id').textContent(), 'ledger')
    t.match(await created.getByTestId('no-secret').textContent(), 'private_key_jwt', 'no secret is issued')
    t.equal(await created.getByLabel('Client secret').count(), 0)
    await created.getByRole('button', { name: 'Done' }).click()

    const stored = await app.clientStore.find('ledger')
    t.match(stored, { tokenEndpointAuthMethod: 'private_key_jwt', secretHash: null, jwks: { keys: [{ kid: 'ledger-key-1', kty: 'EC' }] } })
    const token = await post('/token', { grant_type: 'client_credentials', scope: 'ledger:read', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(key, 'ledger', issuer) })
    t.equal(token.status, 200, `the client authenticates with an assertion signed by its key: ${JSON.stringify(token.body)}`)
    t.equal(token.body.scope, 'ledger:read')
    const other = await clientKey('ES256', 'not-registered')
    const forged = await post('/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: await assertion(other, 'ledger', issuer) })
    t.equal(forged.status, 401, 'an assertion signed by another key is refused')

    await page.goto(`${issuer}/console/clients?id=ledger`)
    await settled(page)
    t.equal(await page.getByTestId('auth-method').textContent(), 'private_key_jwt', 'the detail view shows the method')
    t.equal(await page.getByRole('button', { name: 'Rotate secret…' }).count(), 0, 'no secret to rotate')
    t.equal(await page.getByLabel('Token endpoint authentication').inputValue(), 'private_key_jwt', 'the edit form starts from the stored settings')
    t.match(await page.getByLabel('JWKS (public keys, JSON)').inputValue(), '"kid": "ledger-key-1"')
    t.equal(await page.getByTestId('signing-algs').textContent(), 'assertions any, request objects any')
    // Edit: the FAPI 2.0 profile turns on PAR and DPoP; the assertion algorithm is pinned (OIDC DCR §2).
    await page.getByLabel('Security profile').selectOption('fapi2')
    t.equal(await page.getByLabel('Assertion signing algorithm').locator('option[value=RS256]').count(), 0, 'FAPI 2.0 §5.4.1: no RS256 to choose')
    await page.getByLabel('Assertion signing algorithm').selectOption('ES256')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor()
    await page.waitForFunction(() => document.querySelector('[data-testid=dpop]')?.textContent === 'DPoP required')
    t.match(await app.clientStore.find('ledger'), { profile: 'fapi2', requirePushedAuthorizationRequests: true, dpopBoundAccessTokens: true, requirePkce: true, tokenEndpointAuthSigningAlg: 'ES256', requestObjectSigningAlg: null })
    t.equal(await page.getByTestId('signing-algs').textContent(), 'assertions ES256, request objects any')
    await axe(page, 'client detail, FAPI 2.0')
    await page.evaluate(() => (globalThis as unknown as { scrollTo (x: number, y: number): void }).scrollTo(0, 0))
    await shoot(page, 'client-keys')
    t.ok((await auditOf('client_updated', 'ledger')).length, 'the change is audited')
  })

  await t.test('a DPoP-bound client: refused without a proof, bound with one', async (t) => {
    await page.goto(`${issuer}/console/clients`)
    await settled(page)
    await page.getByRole('button', { name: 'Register a client' }).click()
    const dialog = page.getByRole('dialog', { name: 'Register a client' })
    await dialog.getByLabel('Name').fill('Kiosk')
    await dialog.getByLabel('Client ID (optional)').fill('kiosk')
    await dialog.getByLabel('Scopes').fill('kiosk')
    await dialog.getByLabel('DPoP-bound access tokens (RFC 9449)').check()
    await dialog.getByRole('button', { name: 'Register' }).click()
    const created = page.getByRole('dialog', { name: 'Client registered' })
    await created.waitFor()
    const secret = await created.getByLabel('Client secret').inputValue()
    await created.getByRole('button', { name: 'Done' }).click()
    const basic = `Basic ${Buffer.from(`kiosk:${secret}`).toString('base64')}`

    const bare = await post('/token', { grant_type: 'client_credentials' }, { authorization: basic })
    t.equal(bare.status, 400, 'no DPoP proof: refused')
    t.equal(bare.body.error, 'invalid_dpop_proof')
    const key = await dpopKey()
    let res = await post('/token', { grant_type: 'client_credentials' }, { authorization: basic, dpop: await proof(key, { htu: `${issuer}/token` }) })
    const nonce = res.headers.get('dpop-nonce')
    if (res.status === 400 && res.body.error === 'use_dpop_nonce' && nonce) {
      res = await post('/token', { grant_type: 'client_credentials' }, { authorization: basic, dpop: await proof(key, { htu: `${issuer}/token`, nonce }) })
    }
    t.equal(res.status, 200, `with a proof: ${JSON.stringify(res.body)}`)
    t.equal(res.body.token_type, 'DPoP', 'the token is DPoP-bound')
    const claims = JSON.parse(Buffer.from(String(res.body.access_token).split('.')[1], 'base64url').toString())
    t.equal(claims.cnf?.jkt, key.jkt, 'bound to the proof\'s key (cnf.jkt)')
    await page.goto(`${issuer}/console/clients?id=kiosk`)
    await settled(page)
    t.equal(await page.getByTestId('dpop').textContent(), 'DPoP required')
  })

  await t.test('a user\'s factors: remove TOTP, see the audit event; reset all needs the username', async (t) => {
    await page.goto(`${issuer}/console/users?id=${tina.user.id}`)
    await settled(page)
    t.equal(await page.getByTestId('totp-state').textContent(), 'enrolled')
    t.equal(await page.getByTestId('email-state').textContent(), 'tina@example.com (not verified)', 'the email verification state')
    const passkeys = page.getByRole('region', { name: 'Passkeys of tina' })
    t.match(await passkeys.textContent(), /YubiKey.*no \(device-bound\).*usb, nfc/, 'passkeys are listed')
    const consents = page.getByRole('region', { name: 'Clients tina consented to' })
    t.match(await consents.textContent(), /photos.*openid photos:read/, 'consents are listed')
    await page.getByRole('heading', { name: 'Second factors' }).scrollIntoViewIfNeeded()
    await axe(page, 'user with factors')
    await shoot(page, 'user-factors')

    await page.getByRole('button', { name: 'Remove TOTP…' }).click()
    const confirm = page.getByRole('dialog', { name: 'Remove the TOTP authenticator?' })
    await axe(page, 'remove TOTP confirmation')
    await confirm.getByRole('button', { name: 'Remove TOTP' }).click()
    await page.getByRole('status').filter({ hasText: 'TOTP authenticator removed.' }).waitFor()
    await page.waitForFunction(() => document.querySelector('[data-testid=totp-state]')?.textContent === 'none')
    t.equal((await app.secondFactors.summary(tina.user.id)).totp, false, 'the TOTP factor is gone')
    t.equal((await app.secondFactors.summary(tina.user.id)).passkeys.length, 1, 'the passkey stays')

    await page.goto(`${issuer}/console/audit`)
    await settled(page)
    await page.getByLabel('Event type').fill('totp_removed')
    await settledAfter(page, async () => {
      await page.getByRole('button', { name: 'Apply filters' }).click()
      await page.waitForURL(/type=totp_removed/)
    })
    const rows = page.locator('tbody tr[data-type=totp_removed]')
    t.equal(await rows.count(), 1, 'the audit trail shows the removal')
    t.match(await rows.textContent(), tina.user.id, 'with the user as subject')
    t.equal((await auditOf('totp_removed', tina.user.id))[0]?.actor, admin.user.id, 'and the acting admin as actor')

    // Require MFA, then reset everything behind the typed username.
    await page.goto(`${issuer}/console/users?id=${tina.user.id}`)
    await settled(page)
    await page.getByRole('button', { name: 'Require a second factor' }).click()
    await page.waitForFunction(() => document.querySelector('[data-testid=mfa-required]')?.textContent === 'yes')
    t.equal((await app.usersRepository.findById(tina.user.id))?.mfaRequired, true, 'MFA is required')
    await page.getByRole('button', { name: 'Reset all factors…' }).click()
    const reset = page.getByRole('dialog', { name: 'Reset all second factors?' })
    await reset.getByLabel('Type tina to confirm').fill('tin')
    await reset.getByRole('button', { name: 'Reset all factors' }).click()
    t.match(await reset.getByRole('alert').textContent(), 'type tina exactly', 'a wrong username is refused')
    await axe(page, 'reset all factors, refused')
    t.equal((await app.secondFactors.summary(tina.user.id)).passkeys.length, 1, 'nothing was removed')
    await reset.getByLabel('Type tina to confirm').fill('tina')
    await reset.getByRole('button', { name: 'Reset all factors' }).click()
    await page.getByRole('status').filter({ hasText: 'All second factors removed: 1 passkey(s), 0 TOTP' }).waitFor()
    const after = await app.secondFactors.summary(tina.user.id)
    t.same({ totp: after.totp, passkeys: after.passkeys.length, codes: after.recoveryCodesLeft }, { totp: false, passkeys: 0, codes: 0 })
    t.equal((await auditOf('factors_reset', tina.user.id)).length, 1)

    await page.getByRole('button', { name: 'Withdraw consent for photos' }).click()
    await page.getByRole('status').filter({ hasText: 'Consent for photos withdrawn' }).waitFor()
    t.same(await app.consents.granted(tina.user.id, 'photos'), [], 'the consent is withdrawn')
  })

  await t.test('sends a password-reset mail', async (t) => {
    await page.goto(`${issuer}/console/users?id=${rhea.user.id}`)
    await settled(page)
    await page.getByRole('button', { name: 'Send a reset mail' }).click()
    await page.getByRole('status').filter({ hasText: 'A password reset link was mailed to rhea@example.com' }).waitFor()
    const mail = await smtp.waitFor((m) => /rhea@example\.com/.test(m.to))
    const link = linkIn(mail, `${issuer}/password/reset?token=`)
    const form = await fetch(link)
    t.equal(form.status, 200, 'the mailed link opens the reset form')
    t.equal((await auditOf('password_reset_requested', rhea.user.id))[0]?.actor, admin.user.id, 'audited with the acting admin')
  })

  await t.test('invitations: create (link once, mailed), sign up with it; withdraw another', async (t) => {
    await page.goto(`${issuer}/console/invites`)
    await settled(page)
    t.match(await page.getByRole('status').filter({ hasText: 'SIGNUP=invite' }).textContent(), 'Sign-up needs an invitation', 'the sign-up mode is shown')
    await page.getByLabel('Email').fill('newbie@example.com')
    await page.getByLabel('Scopes').fill('read')
    await page.getByRole('button', { name: 'Send invitation' }).click()
    const sent = page.getByRole('dialog', { name: 'Invitation sent' })
    await sent.waitFor()
    const link = await sent.getByLabel('Invitation link').inputValue()
    t.match(link, `${issuer}/signup?invite=`)
    await axe(page, 'invitation link dialog')
    await shoot(page, 'invite-link')
    await sent.getByRole('button', { name: 'Done' }).click()
    const mail = await smtp.waitFor((m) => /newbie@example\.com/.test(m.to))
    t.equal(linkIn(mail, `${issuer}/signup?invite=`), link, 'the same link was mailed')
    await page.getByRole('cell', { name: 'read' }).waitFor()
    t.equal(await page.locator('tbody tr[data-invite]').count(), 1, 'listed as unused')

    const guest = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const g = await guest.newPage()
    await g.goto(link)
    t.match(await g.locator('body').textContent(), 'newbie@example.com', 'the sign-up form names the invited address')
    await g.getByLabel('Username').fill('newbie')
    await g.getByLabel('Password').fill('a long enough passphrase')
    await g.getByRole('button', { name: 'Create account' }).click()
    await g.getByRole('heading', { name: 'Account created' }).waitFor()
    await guest.close()
    const user = await app.usersRepository.findByUsername('newbie')
    t.match(user, { email: 'newbie@example.com', scopes: ['read'] })
    t.ok(user?.emailVerifiedAt, 'the invitation proved the address')

    await page.goto(`${issuer}/console/invites`)
    await settled(page)
    t.equal(await page.locator('tbody tr[data-invite]').count(), 0, 'a used invitation is no longer listed')
    await page.getByLabel('Email').fill('maybe@example.com')
    await page.getByRole('button', { name: 'Send invitation' }).click()
    await page.getByRole('dialog', { name: 'Invitation sent' }).getByRole('button', { name: 'Done' }).click()
    await page.locator('tbody tr[data-invite]').first().waitFor()
    await axe(page, 'invitations')
    await shoot(page, 'invites')
    await page.getByRole('button', { name: /^Withdraw the invitation for maybe@example\.com/ }).click()
    await page.getByRole('dialog', { name: 'Withdraw this invitation?' }).getByRole('button', { name: 'Withdraw invitation' }).click()
    await page.getByRole('status').filter({ hasText: 'was withdrawn' }).waitFor()
    t.same(await app.accounts.listInvites(), [], 'withdrawn')
    t.equal((await auditOf('invite_revoked')).length, 1, 'audited')

    await page.goto(`${issuer}/console/users?id=${user!.id}`)
    await settled(page)
    t.equal(await page.getByTestId('email-state').textContent(), 'newbie@example.com (verified)', 'the user page shows the verified address')
  })

  await t.test('looks up a session by sid and a refresh-token family by id', async (t) => {
    const [session] = await app.sessions.listActiveForUser(admin.user.id, { limit: 5 }, new Date())
    const [family] = await app.refreshTokens.listFamilies({ userId: admin.user.id }, { limit: 5 }, new Date())
    await page.goto(`${issuer}/console/sessions`)
    await settled(page)
    await page.getByLabel('Session ID (sid)').fill(session.id)
    await page.getByRole('button', { name: 'Find session' }).click()
    const found = page.getByTestId('found-session')
    await found.waitFor()
    t.match(await found.textContent(), new RegExp(`${admin.user.id}.*live.*stamp-console`), 'the session, its user, state and clients')
    await page.getByLabel('Refresh-token family ID').fill(family.familyId)
    await page.getByRole('button', { name: 'Find family' }).click()
    await page.getByTestId('found-family').waitFor()
    t.match(await page.getByTestId('found-family').textContent(), /stamp-console.*active/, 'the family, its client and state')
    await page.getByLabel('Session ID (sid)').fill('no-such-session')
    await page.getByRole('button', { name: 'Find session' }).click()
    await page.getByRole('alert').filter({ hasText: 'no such session' }).waitFor()
    t.match(await page.getByRole('alert').textContent(), 'no such session (HTTP 404, invalid_request)', 'a miss is said plainly')
    await axe(page, 'sessions with lookups')
    await page.getByRole('heading', { name: 'Look up' }).scrollIntoViewIfNeeded()
    await shoot(page, 'sessions-lookup')
  })

  await t.test('a user\'s linked identity providers: listed, unlinked with one button, audited', async (t) => {
    const corp = await app.identityProviders.create({ slug: 'corp-linked', displayName: 'Corp Linked', issuer: 'https://login.corp.example', clientId: 'stamp', clientSecret: 'corp secret' }, { actor: 'test' })
    await app.dbPool.query("INSERT INTO federated_identities (id, provider_id, subject, user_id, email) VALUES (gen_random_uuid(), $1, 'tina-upstream', $2, 'tina@corp.example')", [corp.id, tina.user.id])
    await page.goto(`${issuer}/console/users?id=${tina.user.id}`)
    await settled(page)
    const links = page.getByRole('region', { name: 'Upstream identities linked to tina' })
    await links.getByText('tina-upstream').waitFor()
    t.match(await links.textContent(), /Corp Linked.*tina-upstream.*tina@corp\.example/, 'the link is listed')
    await axe(page, 'user page with a linked identity')
    await links.getByRole('button', { name: 'Unlink Corp Linked' }).click()
    await page.getByRole('status').filter({ hasText: 'Unlinked Corp Linked.' }).waitFor()
    await links.getByText('No linked identity providers.').waitFor()
    t.same(await app.federation.linksFor(tina.user.id), [], 'unlinked')
    t.equal((await auditOf('federated_identity_unlinked', tina.user.id))[0]?.actor, admin.user.id, 'audited with the acting admin')
    await app.identityProviders.delete(corp.id, { actor: 'test' })
  })

  await t.test('identity providers: add a plain OAuth 2 provider, secret write-only, disable, delete behind its name', async (t) => {
    await page.goto(`${issuer}/console/identity-providers`)
    await settled(page)
    await page.getByRole('button', { name: 'Add an identity provider' }).click()
    const dialog = page.getByRole('dialog', { name: 'Add an identity provider' })
    await dialog.waitFor()
    await dialog.getByLabel('Name', { exact: true }).fill('octo')
    await dialog.getByLabel('Display name').fill('Octo')
    await dialog.getByLabel('Kind').selectOption('oauth2')
    await dialog.getByLabel('Authorization endpoint').fill('https://octo.example.com/login/oauth/authorize')
    await dialog.getByLabel('Token endpoint').fill('https://octo.example.com/login/oauth/access_token')
    await dialog.getByLabel('Userinfo endpoint').fill('https://api.octo.example.com/user')
    await dialog.getByLabel('Client ID').fill('stamp-at-octo')
    await dialog.getByLabel('Client secret').fill('octo client secret value')
    await dialog.getByLabel('Scope').fill('read:user user:email')
    await dialog.getByLabel('Claim for username').fill('login')
    await dialog.getByLabel('Create a local user on the first sign-in (just in time)').check()
    await axe(page, 'add identity provider dialog')
    await dialog.getByRole('button', { name: 'Add provider' }).click()
    await page.waitForURL(/identity-providers\?id=octo/)
    await settled(page)
    t.equal(await page.getByTestId('idp-credential').textContent(), 'client secret stored (sealed)')
    const stored = await app.identityProviders.find('octo')
    t.match(stored, { slug: 'octo', kind: 'oauth2', clientId: 'stamp-at-octo', jit: true }, 'created through the admin API')
    t.notMatch(await page.locator('main').textContent(), 'octo client secret value', 'the secret is never shown')
    await axe(page, 'identity provider detail')
    await shoot(page, 'identity-provider')
    await page.getByRole('button', { name: 'Disable' }).click()
    await page.getByTestId('idp-status').filter({ hasText: 'disabled' }).waitFor()
    t.equal((await app.identityProviders.find('octo'))?.enabled, false, 'disabled')
    await page.getByRole('button', { name: 'Delete…' }).click()
    const confirm = page.getByRole('dialog', { name: 'Delete this identity provider?' })
    await confirm.getByLabel('Type octo to confirm').fill('oct')
    await confirm.getByRole('button', { name: 'Delete provider' }).click()
    await confirm.getByRole('alert').filter({ hasText: 'type octo exactly' }).waitFor()
    t.ok(await app.identityProviders.find('octo'), 'not deleted without the typed name')
    await confirm.getByLabel('Type octo to confirm').fill('octo')
    await confirm.getByRole('button', { name: 'Delete provider' }).click()
    await page.waitForURL(`${issuer}/console/identity-providers`)
    await settled(page)
    t.equal(await app.identityProviders.find('octo'), null, 'deleted')
    t.equal((await auditOf('identity_provider_created')).filter((e) => e.actor === admin.user.id).length, 1, 'creation audited')
    t.equal((await auditOf('identity_provider_deleted')).filter((e) => e.actor === admin.user.id).length, 1, 'deletion audited')
    await axe(page, 'identity providers')
  })

  await t.test('the new views on a phone', async (t) => {
    await page.setViewportSize({ width: 390, height: 844 })
    for (const [path, name] of [['invites', 'invites-mobile'], [`users?id=${tina.user.id}`, 'user-mobile'], ['clients?id=ledger', 'client-mobile']] as const) {
      await page.goto(`${issuer}/console/${path}`)
      await settled(page)
      t.notOk(await page.getByRole('alert').count(), `${name}: no error shown`)
      await axe(page, `${name} at 390×844`)
      if (name === 'invites-mobile') await shoot(page, name)
    }
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  t.same(cspViolations, [], 'no CSP violation')
  t.same(pageErrors, [], 'no script error')
}
