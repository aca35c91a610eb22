/**
 * The verifier against the real Stamp over loopback HTTP: discovery, real access and refresh
 * tokens, audiences of two services, 304 revalidation of Stamp's JWKS, and key rotation.
 * Stamp itself runs on Fastify; the verifier under test does not.
 *
 * @module
 */
import t from 'tap'
import { codeOf } from '../fixtures/verifier_outcome.js'
import { SignJWT } from 'jose'
import { createVerifier } from '../../packages/verifier/src/index.js'
import { createUser, postForm } from '../helper.js'
import { startStamp } from '../fixtures/stamp_server.js'

const ORDERS = 'https://orders.example'
const BILLING = 'https://billing.example'

t.test('Stamp tokens through discovery, audiences, token types, revalidation and rotation', async (t) => {
  const stamp = await startStamp(t)
  const caller = await stamp.client({ scopes: ['orders:read', 'billing:read'], audiences: [ORDERS, BILLING] })

  t.test('an access token verifies with only issuer and audience configured', async (t) => {
    const verifier = createVerifier({ issuer: stamp.issuer, audience: ORDERS })
    const claims = await verifier.verify(await stamp.accessToken(caller, { resource: ORDERS, scope: 'orders:read' }))
    t.equal(claims.iss, stamp.issuer)
    t.equal(claims.aud, ORDERS)
    t.equal(claims.client_id, caller.client.id)
    t.equal(claims.sub, caller.client.id)
    t.equal(claims.scope, 'orders:read')
    t.equal(typeof claims.jti, 'string')
    t.equal(claims.exp - claims.iat, 300)
    t.equal(verifier.jwks.stats.fetches, 1)
  })

  t.test('a token for service A is rejected by service B', async (t) => {
    const orders = createVerifier({ issuer: stamp.issuer, audience: ORDERS })
    const billing = createVerifier({ issuer: stamp.issuer, audience: BILLING })
    const forOrders = await stamp.accessToken(caller, { resource: ORDERS })
    const forBilling = await stamp.accessToken(caller, { resource: BILLING })
    t.ok(await orders.verify(forOrders))
    t.ok(await billing.verify(forBilling))
    t.equal(await codeOf(billing.verify(forOrders)), 'ERR_STAMP_TOKEN_AUDIENCE_INVALID')
    t.equal(await codeOf(orders.verify(forBilling)), 'ERR_STAMP_TOKEN_AUDIENCE_INVALID')
    // Without a resource parameter the token carries every audience the client may use.
    const both = await stamp.accessToken(caller)
    t.ok(await orders.verify(both))
    t.ok(await billing.verify(both))
  })

  t.test('a genuine refresh token and an ID-token-shaped JWT are refused', async (t) => {
    const app = stamp.app
    const spa = await stamp.client({ grantTypes: ['password', 'refresh_token'], firstParty: true, scopes: ['orders:read'], audiences: [ORDERS] })
    const { username, password } = await createUser(app, undefined, undefined, ['orders:read'])
    const res = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'orders:read' }, { authorization: spa.basic })
    t.equal(res.statusCode, 200, res.body)
    const { access_token: accessToken, refresh_token: refreshToken } = res.json()
    const verifier = createVerifier({ issuer: stamp.issuer, audience: ORDERS })
    t.ok(await verifier.verify(accessToken))
    t.ok(refreshToken, 'a refresh token was issued')
    t.equal(await codeOf(verifier.verify(refreshToken)), 'ERR_STAMP_TOKEN_TYPE_INVALID', 'rt+jwt is not an access token')
    // Even if its audience were ours (Stamp sets the issuer), typ alone decides.
    const verifierForStamp = createVerifier({ issuer: stamp.issuer, audience: stamp.issuer })
    t.equal(await codeOf(verifierForStamp.verify(refreshToken)), 'ERR_STAMP_TOKEN_TYPE_INVALID')
    // An ID token (OIDC Core §2) signed by Stamp's real key: typ JWT, aud = client_id.
    const { kid, alg, key } = app.keyring.signingKey()
    const idToken = await new SignJWT({ client_id: spa.client.id, nonce: 'n', auth_time: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg, kid, typ: 'JWT' }).setIssuer(stamp.issuer).setAudience(ORDERS).setSubject('user')
      .setJti('id-1').setIssuedAt().setExpirationTime('5m').sign(key)
    t.equal(await codeOf(verifier.verify(idToken)), 'ERR_STAMP_TOKEN_TYPE_INVALID', 'ID token refused')
  })

  t.test("Stamp's JWKS is revalidated with If-None-Match and answered 304", async (t) => {
    let clock = Date.now()
    const verifier = createVerifier({ issuer: stamp.issuer, audience: ORDERS, now: () => clock })
    const token = await stamp.accessToken(caller, { resource: ORDERS })
    await verifier.verify(token)
    t.equal(verifier.jwks.stats.fetches, 1)
    clock += (stamp.app.config.policy.jwksMaxAge + 1) * 1000
    // The token would have expired at this clock, so only the cache is exercised here.
    await verifier.jwks.getKey(stamp.app.keyring.signingKey().kid, 'RS256')
    await verifier.jwks.idle()
    t.equal(verifier.jwks.stats.fetches, 2, 'stale after JWKS_MAX_AGE: revalidated')
    t.equal(verifier.jwks.stats.notModified, 1, 'Stamp answered 304')
    t.equal(verifier.jwks.stats.failures, 0)
  })

  t.test('rotation to the pre-published next key causes no refetch', async (t) => {
    let clock = Date.now()
    const verifier = createVerifier({ issuer: stamp.issuer, audience: ORDERS, now: () => clock })
    const before = await stamp.accessToken(caller, { resource: ORDERS })
    await verifier.verify(before)
    t.equal(verifier.jwks.stats.fetches, 1)
    const rotated = await stamp.app.keyring.rotate({ force: true })
    const after = await stamp.accessToken(caller, { resource: ORDERS })
    t.equal(JSON.parse(Buffer.from(after.split('.')[0], 'base64url').toString()).kid, rotated.active, 'signed by the former next key')
    t.ok(await verifier.verify(after), 'the new active key was already cached')
    t.ok(await verifier.verify(before), 'the retiring key still verifies older tokens')
    t.equal(verifier.jwks.stats.fetches, 1, 'no JWKS fetch during the rotation')
    // Rotating again at once skips pre-publication (that is what --force means): the new key is
    // unknown, and within the 30 s cooldown the verifier does not ask again.
    await stamp.app.keyring.rotate({ force: true })
    const unseen = await stamp.accessToken(caller, { resource: ORDERS })
    t.equal(await codeOf(verifier.verify(unseen)), 'ERR_STAMP_KEY_NOT_FOUND', 'inside the cooldown')
    clock += 31_000
    t.ok(await verifier.verify(unseen), 'after the cooldown')
    t.equal(verifier.jwks.stats.fetches, 2, 'a key never seen before costs exactly one fetch')
  })
})
