import t from 'tap'
import {
  ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR, acrFor, afterFirstFactor, combineMethods, passkeyMethods, requestedACR, sessionSatisfies,
} from '../../src/domain/authentication_methods.js'

t.test('amr combination (RFC 8176)', async (t) => {
  t.same(combineMethods(['pwd']), ['pwd'], 'a password alone is one factor')
  t.same(combineMethods(['pwd'], ['otp']), ['pwd', 'otp', 'mfa'], 'password + one-time code is mfa')
  t.same(combineMethods(['pwd'], passkeyMethods({ backupEligible: false }, true)), ['pwd', 'hwk', 'user', 'mfa'])
  t.same(combineMethods(passkeyMethods({ backupEligible: true }, true)), ['swk', 'user', 'mfa'], 'a synced passkey with user verification')
  t.same(combineMethods(passkeyMethods({ backupEligible: false }, false)), ['hwk'], 'a key without user verification is one factor')
  t.same(combineMethods(['otp', 'pwd', 'mfa', 'pwd']), ['pwd', 'otp', 'mfa'], 'stable order, no duplicates, mfa recomputed')
  t.same(combineMethods(['fed']), ['fed'])
  t.same(combineMethods(['fed'], ['otp']), ['fed', 'otp', 'mfa'])
})

t.test('acr from amr, requested acr, satisfaction', async (t) => {
  t.equal(acrFor(['pwd']), ACR_SINGLE_FACTOR)
  t.equal(acrFor(['pwd', 'otp', 'mfa']), ACR_MULTI_FACTOR)
  t.equal(requestedACR(['urn:unknown', ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR]), ACR_MULTI_FACTOR, 'first known value in order of preference')
  t.equal(requestedACR(['urn:unknown']), undefined)
  t.ok(sessionSatisfies({ acr: ACR_SINGLE_FACTOR }, { mfaRequired: false }))
  t.notOk(sessionSatisfies({ acr: ACR_SINGLE_FACTOR }, { requested: ACR_MULTI_FACTOR, mfaRequired: false }))
  t.notOk(sessionSatisfies({ acr: ACR_SINGLE_FACTOR }, { mfaRequired: true }))
  t.notOk(sessionSatisfies({ acr: null }, { mfaRequired: true }), 'a session from before acr was recorded counts as single-factor')
  t.ok(sessionSatisfies({ acr: ACR_MULTI_FACTOR }, { requested: ACR_SINGLE_FACTOR, mfaRequired: false }), 'a stronger class meets a weaker request')
  t.ok(sessionSatisfies({ acr: ACR_MULTI_FACTOR }, { mfaRequired: true }))
})

t.test('MFA policy after the first factor', async (t) => {
  const base = { mode: 'optional' as const, clientRequires: false, userRequires: false, hasSecondFactor: false }
  t.equal(afterFirstFactor(base), 'done', 'optional, nothing enrolled')
  t.equal(afterFirstFactor({ ...base, hasSecondFactor: true }), 'second_factor', 'optional, enrolled: asked')
  t.equal(afterFirstFactor({ ...base, mode: 'off', hasSecondFactor: true }), 'done', 'off: never asked')
  t.equal(afterFirstFactor({ ...base, mode: 'required' }), 'enrol', 'required, nothing enrolled: enrol now')
  t.equal(afterFirstFactor({ ...base, mode: 'required', hasSecondFactor: true }), 'second_factor')
  t.equal(afterFirstFactor({ ...base, mode: 'off', clientRequires: true }), 'enrol', 'a client requirement beats MFA=off')
  t.equal(afterFirstFactor({ ...base, userRequires: true, hasSecondFactor: true }), 'second_factor', 'per user')
  t.equal(afterFirstFactor({ ...base, requested: ACR_MULTI_FACTOR }), 'enrol', 'acr_values asking for mfa')
  t.equal(afterFirstFactor({ ...base, requested: ACR_SINGLE_FACTOR, hasSecondFactor: false }), 'done')
})
