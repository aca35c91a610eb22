/**
 * Admin API: removing one second factor (the TOTP authenticator, one passkey) leaves the others,
 * is audited with the acting admin, and never touches another user's factors; a user's consents
 * are listed; users carry their email verification state, also in a search.
 */
import t from 'tap'
import { build, createAdmin, createUser } from '../../helper.js'
import { totp } from '../../../src/domain/totp.js'
import { prismaFactorStore } from '../../../src/storage/prisma/factors.js'

t.test('one factor at a time, consents, email verification', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const call = (method: 'GET' | 'DELETE' | 'PATCH', url: string, payload?: object) => app.inject({ method, url: `/admin${url}`, headers: { authorization: admin.authorization }, payload })
  const store = prismaFactorStore(app.prisma)

  async function withFactors (name: string) {
    const { user } = await createUser(app, name)
    const enrolment = await app.secondFactors.beginTOTP(user)
    await app.secondFactors.confirmTOTP(user.id, totp(enrolment!.secret, Date.now()))
    await app.secondFactors.regenerateRecoveryCodes(user.id)
    const credential = `cred-${name}`
    await store.addPasskey({ id: credential, userId: user.id, publicKey: new Uint8Array([1, 2, 3]), signCount: 0, backupEligible: false, backupState: false, transports: ['usb'], name: 'Security key' })
    return { user, credential }
  }
  const hana = await withFactors('hana')
  const ivo = await withFactors('ivo')

  t.test('TOTP only', async (t) => {
    const res = await call('DELETE', `/users/${hana.user.id}/factors/totp`)
    t.equal(res.statusCode, 200)
    t.same(res.json(), { user_id: hana.user.id, removed: true })
    const factors = (await call('GET', `/users/${hana.user.id}/factors`)).json()
    t.equal(factors.totp, false, 'TOTP is gone')
    t.equal(factors.passkeys.length, 1, 'the passkey stays')
    t.equal(factors.recovery_codes_left, 10, 'the recovery codes stay')
    t.equal((await call('GET', `/users/${ivo.user.id}/factors`)).json().totp, true, 'another user keeps theirs')
    const events = await app.auditStore.list({ limit: 10, type: 'totp_removed', subject: hana.user.id })
    t.equal(events.length, 1, 'audited')
    t.equal(events[0].actor, admin.user.id, 'with the acting admin')
    const again = await call('DELETE', `/users/${hana.user.id}/factors/totp`)
    t.same(again.json(), { user_id: hana.user.id, removed: false }, 'nothing left to remove: removed false, no second event')
    t.equal((await app.auditStore.list({ limit: 10, type: 'totp_removed', subject: hana.user.id })).length, 1)
  })

  t.test('one passkey', async (t) => {
    const foreign = await call('DELETE', `/users/${hana.user.id}/factors/passkeys/${ivo.credential}`)
    t.equal(foreign.statusCode, 404, 'another user\'s passkey is not found under this user')
    t.equal((await call('GET', `/users/${ivo.user.id}/factors`)).json().passkeys.length, 1, 'and stays')
    const res = await call('DELETE', `/users/${hana.user.id}/factors/passkeys/${hana.credential}`)
    t.equal(res.statusCode, 200)
    t.same(res.json(), { user_id: hana.user.id, removed: true })
    t.same((await call('GET', `/users/${hana.user.id}/factors`)).json().passkeys, [])
    const events = await app.auditStore.list({ limit: 10, type: 'passkey_removed', subject: hana.user.id })
    t.same(events.map((e) => e.detail), [{ credential_id: hana.credential }])
    t.equal((await call('DELETE', `/users/${hana.user.id}/factors/passkeys/bad%20id`)).statusCode, 400, 'a malformed credential id')
  })

  t.test('unknown user', async (t) => {
    const ghost = '00000000-0000-4000-8000-000000000000'
    for (const url of [`/users/${ghost}/factors/totp`, `/users/${ghost}/factors/passkeys/x`]) {
      const res = await call('DELETE', url)
      t.equal(res.statusCode, 404, url)
      t.same(res.json(), { error: 'invalid_request', error_description: 'no such user' })
    }
    t.equal((await call('GET', `/users/${ghost}/consents`)).statusCode, 404)
  })

  t.test('consents', async (t) => {
    t.same((await call('GET', `/users/${ivo.user.id}/consents`)).json(), { items: [] })
    await app.consents.grant(ivo.user.id, 'photos', ['openid', 'photos:read'])
    const listed = (await call('GET', `/users/${ivo.user.id}/consents`)).json()
    t.equal(listed.items.length, 1)
    t.match(listed.items[0], { client_id: 'photos', scopes: ['openid', 'photos:read'], updated_at: /^\d{4}-/ })
    await call('DELETE', `/users/${ivo.user.id}/consents/photos`)
    t.same((await call('GET', `/users/${ivo.user.id}/consents`)).json(), { items: [] }, 'withdrawn: gone from the list')
  })

  t.test('users carry email_verified and mfa_required, in a search too', async (t) => {
    const { user } = await createUser(app, 'vera')
    await call('PATCH', `/users/${user.id}`, { email: 'vera@example.com', mfa_required: true })
    t.match((await call('GET', `/users/${user.id}`)).json(), { email_verified: false, mfa_required: true })
    await app.prisma.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } })
    t.match((await call('GET', `/users/${user.id}`)).json(), { email_verified: true })
    const found = (await call('GET', '/users?q=vera')).json().items
    t.match(found, [{ username: 'vera', email_verified: true, mfa_required: true }], 'the search returns both')
    await call('PATCH', `/users/${user.id}`, { email: 'vera@elsewhere.example' })
    t.match((await call('GET', `/users/${user.id}`)).json(), { email_verified: false }, 'a new address is not verified')
  })
})
