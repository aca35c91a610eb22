/**
 * `stamp keys rewrap` re-seals every value sealed with the KEK, not only signing keys: TOTP
 * secrets, upstream identity-provider credentials and held upstream ID Tokens. Otherwise, once the
 * old KEK is gone, every TOTP user is locked out and every federated sign-in fails.
 *
 * @module
 */
import t from 'tap'
import { build, createTestDatabase, createUser, testConfig } from '../helper.js'
import { generateKEKValue, kekFromBase64url } from '../../src/crypto/kek.js'
import { totp } from '../../src/domain/totp.js'

t.test('rewrap re-seals TOTP secrets and provider credentials; an app on the new KEK reads them', async (t) => {
  const url = await createTestDatabase(t)
  const config = testConfig(url)
  const before = await build(t, { databaseUrl: url, config })
  const { user } = await createUser(before, 'tess')
  const enrolment = await before.secondFactors.beginTOTP(user)
  t.ok(await before.secondFactors.confirmTOTP(user.id, totp(enrolment!.secret, Date.now())))
  const idp = await before.identityProviders.create({ slug: 'corp', issuer: 'https://idp.example.com', clientId: 'stamp', clientSecret: 'the corp client secret' }, { actor: 'test' })

  const next = generateKEKValue()
  await before.keyring.rewrap(kekFromBase64url(next))
  const kekIds = await before.dbPool.query(`SELECT kek_id FROM totp_factors UNION SELECT kek_id FROM identity_providers WHERE credential_enc IS NOT NULL`)
  t.same(kekIds.rows.map((r) => r.kek_id), [kekFromBase64url(next).id], 'every sealed row names the new KEK')

  const after = await build(t, { databaseUrl: url, config: { ...testConfig(url, { KEY_ENCRYPTION_KEY: next }), issuer: config.issuer } })
  const provider = await after.identityProviders.find(idp.id)
  t.equal(after.identityProviders.credential(provider!), 'the corp client secret', 'the provider credential opens with the new KEK')
  // A code of the next time step: the confirmation used this step's.
  t.ok(await after.secondFactors.verifyTOTP(user.id, totp(enrolment!.secret, Date.now() + 30_000)), 'TOTP still verifies under the new KEK')
})
