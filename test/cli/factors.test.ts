import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build, createAdmin, createTestDatabase, createUser, testConfig } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { totp } from '../../src/domain/totp.js'
import { stamp } from '../fixtures/process.js'

const url = await createTestDatabase(t)
const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-cli-')), LOG_LEVEL: 'warn' }
const app = await build(t, { databaseUrl: url, config: testConfig(url, { KEY_ENCRYPTION_KEY: env.KEY_ENCRYPTION_KEY }) })
const admin = await createAdmin(app)
const call = (method: 'GET' | 'PATCH' | 'DELETE', path: string, payload?: object) =>
  app.inject({ method, url: `/admin${path}`, headers: { authorization: admin.authorization }, payload })

async function withFactors (name: string) {
  const { user } = await createUser(app, name)
  const enrolment = await app.secondFactors.beginTOTP(user)
  await app.secondFactors.confirmTOTP(user.id, totp(enrolment!.secret, Date.now()))
  await app.secondFactors.regenerateRecoveryCodes(user.id)
  return user
}

t.test('admin API: list a user\'s factors, require MFA, reset them', async (t) => {
  const user = await withFactors('hana')
  const listed = await call('GET', `/users/${user.id}/factors`)
  t.equal(listed.statusCode, 200)
  t.same(listed.json(), { user_id: user.id, mfa_required: false, totp: true, recovery_codes_left: 10, passkeys: [] })
  t.notMatch(listed.body, /secret/i, 'no secret in the answer')

  const required = await call('PATCH', `/users/${user.id}`, { mfa_required: true })
  t.equal(required.statusCode, 200)
  t.equal(required.json().mfa_required, true)

  const reset = await call('DELETE', `/users/${user.id}/factors`)
  t.same(reset.json(), { user_id: user.id, passkeys: 0, totp: 1, recovery_codes: 10 })
  t.same((await call('GET', `/users/${user.id}/factors`)).json(), { user_id: user.id, mfa_required: true, totp: false, recovery_codes_left: 0, passkeys: [] })
  t.equal((await call('GET', '/users/00000000-0000-4000-8000-000000000000/factors')).statusCode, 404)
  const [event] = (await app.auditStore.list({ limit: 5, type: 'factors_reset' }))
  t.equal(event.subject, user.id)
  t.equal(event.actor, admin.user.id)
})

t.test('admin API: clients can require MFA', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/admin/clients', headers: { authorization: admin.authorization }, payload: { name: 'Payroll', grant_types: ['authorization_code'], redirect_uris: ['https://payroll.example/cb'], require_mfa: true } })
  t.equal(res.statusCode, 201)
  t.equal(res.json().require_mfa, true)
  const off = await app.inject({ method: 'PATCH', url: `/admin/clients/${res.json().client_id}`, headers: { authorization: admin.authorization }, payload: { require_mfa: false } })
  t.equal(off.json().require_mfa, false)
})

t.test('CLI: user factors, require-mfa, reset-factors; client --require-mfa', async (t) => {
  const user = await withFactors('ivan')
  const listed = await stamp(['user', 'factors', 'ivan', '--json'], env)
  t.equal(listed.code, 0, listed.stderr)
  t.same(JSON.parse(listed.stdout), { user_id: user.id, mfa_required: false, totp: true, recovery_codes_left: 10, passkeys: [] })
  const required = await stamp(['user', 'require-mfa', user.id, '--json'], env)
  t.equal(required.code, 0, required.stderr)
  t.equal((await app.usersRepository.findById(user.id))!.mfaRequired, true)
  t.equal((await stamp(['user', 'require-mfa', 'ivan', '--off'], env)).code, 0)
  t.equal((await app.usersRepository.findById(user.id))!.mfaRequired, false)
  const reset = await stamp(['user', 'reset-factors', 'ivan', '--json'], env)
  t.same(JSON.parse(reset.stdout), { user_id: user.id, passkeys: 0, totp: 1, recovery_codes: 10 })
  t.equal((await app.auditStore.list({ limit: 1, type: 'factors_reset' }))[0].actor, 'cli')
  t.equal((await stamp(['user', 'factors', 'nobody'], env)).code, 1)

  const created = await stamp(['client', 'create', '--name', 'HR', '--grant', 'authorization_code', '--redirect-uri', 'https://hr.example/cb', '--require-mfa', '--json'], env)
  t.equal(created.code, 0, created.stderr)
  const id = JSON.parse(created.stdout).client_id
  t.equal((await app.clientStore.find(id))!.requireMfa, true)
  t.equal((await stamp(['client', 'update', id, '--no-require-mfa'], env)).code, 0)
  t.equal((await app.clientStore.find(id))!.requireMfa, false)
})
