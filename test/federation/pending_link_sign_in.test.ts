/**
 * A pending federated link completes on every local way of signing in, through the one shared
 * step (routes/oauth/sign_in.ts `establishSession` → Federation.sessionEstablished): password
 * then TOTP as the second factor, and a passkey as the (passwordless) first factor. The passkey
 * here is a software authenticator: a P-256 key made in the test, its assertion signed with it
 * (real ECDSA over authenticatorData ‖ SHA-256(clientDataJSON), WebAuthn §7.2), verified by
 * Stamp's @simplewebauthn/server as a browser's would be.
 */
import t from 'tap'
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { createUser } from '../helper.js'
import { hiddenFields } from '../fixtures/browser.js'
import { APP, HttpBrowser, linkForm, oidcSetup, startAtStamp, tokens, upstreamLeg, verifyIdToken } from '../fixtures/federation.js'
import { totp } from '../../src/domain/totp.js'
import { prismaFactorStore } from '../../src/storage/prisma/factors.js'

const setup = oidcSetup(t)

/** From the app to the link page for `login` at the upstream, then its "Sign in to link" page. */
async function toLinkSignIn (login: string) {
  const { stamp, client } = await setup
  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  const linkPage = await browser.follow((await upstreamLeg(browser, stamp, page.body, 'corp', login)).href)
  if (linkPage.res.status !== 409) throw new Error(`no link page: ${linkPage.res.status}`)
  const signIn = await browser.request('GET', linkForm(linkPage.res.body, stamp.issuer))
  return { browser, signIn, verifier }
}

t.test('password + TOTP (second factor) completes the pending link', async (t) => {
  const { stamp, client, provider } = await setup
  const yara = await createUser(stamp.app, 'yara', 'yara has a long passphrase')
  const enrolment = (await stamp.app.secondFactors.beginTOTP(yara.user))!
  t.ok(await stamp.app.secondFactors.confirmTOTP(yara.user.id, totp(enrolment.secret, Date.now() - 30_000)))
  const { browser, signIn, verifier } = await toLinkSignIn('yara')
  const factor = await browser.follow(`${stamp.issuer}/login`, { ...hiddenFields(signIn.body), username: 'yara', password: yara.password })
  t.notOk(factor.location, 'the second-factor page, not yet signed in')
  t.same(await stamp.app.federation.linksFor(yara.user.id), [], 'no link after the password alone')
  const done = await browser.follow(`${stamp.issuer}/login/factor`, { ...hiddenFields(factor.res.body), method: 'totp', code: totp(enrolment.secret, Date.now()) })
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, 'signed in')
  const id = await verifyIdToken(stamp, client, (await tokens(stamp.app, client, done.location!.searchParams.get('code')!, verifier)).json().id_token)
  t.same([...(id.amr as string[])].sort(), ['mfa', 'otp', 'pwd'], 'password and one-time code (RFC 8176 mfa)')
  const links = await stamp.app.federation.linksFor(yara.user.id)
  t.equal(links.length, 1, 'linked after the second factor')
  t.equal(links[0].providerId, provider.id)
  const audit = await stamp.app.dbPool.query("SELECT detail FROM audit_events WHERE type = 'federated_identity_linked' AND subject = $1", [yara.user.id])
  t.equal(audit.rows[0].detail.via, 'local_sign_in')
})

/** CBOR map of a COSE EC2 P-256 ES256 public key (RFC 9053 §7.1.1): {1: 2, 3: -7, -1: 1, -2: x, -3: y}. */
function coseKey (x: Buffer, y: Buffer): Uint8Array {
  return new Uint8Array(Buffer.concat([Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]), x, Buffer.from([0x22, 0x58, 0x20]), y]))
}

t.test('a passkey (first factor, user verified) completes the pending link', async (t) => {
  const { stamp, client, provider } = await setup
  const zoe = await createUser(stamp.app, 'zoe', 'zoe has a long passphrase')
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = publicKey.export({ format: 'jwk' })
  const credentialId = randomBytes(16).toString('base64url')
  await prismaFactorStore(stamp.app.prisma).addPasskey({
    id: credentialId, userId: zoe.user.id, publicKey: coseKey(Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')),
    signCount: 0, backupEligible: false, backupState: false, transports: ['internal'], name: 'Software key',
  })
  const { browser, signIn, verifier } = await toLinkSignIn('zoe')
  const fields = hiddenFields(signIn.body)
  const options = await browser.request('POST', `${stamp.issuer}/login/passkey/options`, { request: fields.request, csrf: fields.csrf })
  t.equal(options.status, 200, options.body)
  const { challengeId, options: request } = JSON.parse(options.body)
  const origin = new URL(stamp.issuer).origin
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: request.challenge, origin, crossOrigin: false }))
  // rpIdHash ‖ flags (UP | UV) ‖ signCount 1.
  const authenticatorData = Buffer.concat([createHash('sha256').update(request.rpId).digest(), Buffer.from([0x05]), Buffer.from([0, 0, 0, 1])])
  const signature = sign('sha256', Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()]), privateKey)
  const credential = {
    id: credentialId, rawId: credentialId, type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: clientDataJSON.toString('base64url'), authenticatorData: authenticatorData.toString('base64url'), signature: signature.toString('base64url'), userHandle: undefined },
  }
  const done = await browser.follow(`${stamp.issuer}/login/passkey`, { request: fields.request, csrf: fields.csrf, challenge: challengeId, credential: JSON.stringify(credential) })
  t.equal(done.location?.origin + (done.location?.pathname ?? ''), APP, `signed in with the passkey (${done.res.status} ${done.location?.href ?? ''})`)
  const id = await verifyIdToken(stamp, client, (await tokens(stamp.app, client, done.location!.searchParams.get('code')!, verifier)).json().id_token)
  t.equal(id.sub, zoe.user.id)
  t.notOk((id.amr as string[]).includes('pwd'), 'no password used')
  t.notOk((id.amr as string[]).includes('fed'), 'a local sign-in')
  const links = await stamp.app.federation.linksFor(zoe.user.id)
  t.equal(links.length, 1, 'linked after the passkey sign-in')
  t.equal(links[0].providerId, provider.id)
})
