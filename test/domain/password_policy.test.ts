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
  t.equal(policy.violation('1234567'), 'password must be at least 8 characters')
  t.equal(policy.violation('PassWord'), 'password is too common; choose another', 'case-insensitive')
  t.equal(policy.violation('qwertyuiop'), 'password is too common; choose another')
  t.equal(policy.violation('x'.repeat(257)), 'password must be at most 256 characters')
  t.equal(policy.violation('🔑🔑🔑🔑🔑🔑🔑'), 'password must be at least 8 characters', 'counted in code points, not UTF-16 units')
  t.equal(policy.violation('bob-the-builder', { username: 'Bob-The-Builder' }), 'password must not be the username')
  t.equal(new PasswordPolicy({ ...defaults.password, minLength: 12 }).violation('abcdefgh1x'), 'password must be at least 12 characters', 'configurable (PASSWORD_MIN_LENGTH)')
  t.equal(new PasswordPolicy({ ...defaults.password, rejectCommon: false }).violation('password'), null)
})
