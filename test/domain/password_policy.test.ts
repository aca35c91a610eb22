import t from 'tap'
import { commonPasswords, PasswordPolicy } from '../../src/domain/password_policy.js'
import { defaults } from '../../src/config/defaults.js'

t.test('the bundled list', async (t) => {
  const list = commonPasswords()
  t.equal(list.size, 10_000)
  t.ok([...list].every((p) => p.length >= 8 && p === p.toLowerCase()))
  t.ok(list.has('password') && list.has('12345678') && list.has('iloveyou'))
})

t.test('policy', async (t) => {
  const policy = new PasswordPolicy(defaults.password)
  t.equal(policy.violation('correct horse battery staple'), null)
  // NIST SP 800-63B-4 §3.1.1.2: 15 without a second factor, 8 with one.
  t.equal(policy.violation('fourteen chars'), 'password must be at least 15 characters')
  t.equal(policy.violation('fourteen chars', { hasSecondFactor: true }), null)
  t.equal(policy.violation('1234567', { hasSecondFactor: true }), 'password must be at least 8 characters')
  t.equal(policy.minLength(false), 15)
  t.equal(policy.minLength(true), 8)
  t.equal(policy.violation('PassWord', { hasSecondFactor: true }), 'password is too common; choose another', 'case-insensitive')
  t.equal(policy.violation('qwertyuiop', { hasSecondFactor: true }), 'password is too common; choose another')
  t.equal(policy.violation('123456789987654321'), 'password is too common; choose another')
  t.equal(policy.violation('x'.repeat(257)), 'password must be at most 256 characters')
  t.equal(policy.violation('🔑🔑🔑🔑🔑🔑🔑', { hasSecondFactor: true }), 'password must be at least 8 characters', 'counted in code points, not UTF-16 units')
  t.equal(policy.violation('bob-the-builder', { username: 'Bob-The-Builder' }), 'password must not be the username')
  t.equal(new PasswordPolicy({ ...defaults.password, minLength: 12 }).violation('abcdefgh1x'), 'password must be at least 12 characters', 'configurable (PASSWORD_MIN_LENGTH)')
  t.equal(new PasswordPolicy({ ...defaults.password, minLength: 8, rejectCommon: false }).violation('password'), null)
})
