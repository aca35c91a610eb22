/** RFC 8628 user codes and the guard against guessing them: pure functions and a fake clock. */
import t from 'tap'
import { USER_CODE_ALPHABET, UserCodeGuard, formatUserCode, newUserCode, normalizeUserCode } from '../../src/domain/device_flow.js'
import { MemoryThrottleStore } from '../../src/domain/login_throttle.js'
import { defaults } from '../../src/config/defaults.js'

t.test('user codes: 8 letters without vowels, shown XXXX-XXXX, read leniently', async (t) => {
  t.notMatch(USER_CODE_ALPHABET, /[AEIOUY0-9]/, 'no vowels, no digits')
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) {
    const code = newUserCode()
    t.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/)
    seen.add(code)
  }
  t.equal(seen.size, 2000, 'no repeats in 2000 draws (2^34.6 codes)')
  t.equal(formatUserCode('BCDFGHJK'), 'BCDF-GHJK')
  t.equal(normalizeUserCode('bcdf-ghjk'), 'BCDFGHJK', 'case-insensitive')
  t.equal(normalizeUserCode(' BCDF GHJK '), 'BCDFGHJK', 'spaces and dashes ignored')
  t.equal(normalizeUserCode('BCDFGHJ'), null, 'too short')
  t.equal(normalizeUserCode('BCDF-GHJA'), null, 'a vowel is never part of a code')
  t.equal(normalizeUserCode(undefined), null)
})

t.test('the guard blocks a browser after its threshold, for blockSeconds after the last failure', async (t) => {
  let now = 1_000_000
  const policy = { ...defaults.deviceFlow, browserFailures: 3, ipFailures: 10, blockSeconds: 60 }
  const guard = new UserCodeGuard(new MemoryThrottleStore(), policy, () => now)
  t.same(await guard.check('browser-a', '192.0.2.1'), { allowed: true })
  t.equal(await guard.failed('browser-a', '192.0.2.1'), false)
  t.equal(await guard.failed('browser-a', '192.0.2.1'), false)
  t.equal(await guard.failed('browser-a', '192.0.2.1'), true, 'the third failure blocks')
  t.same(await guard.check('browser-a', '192.0.2.1'), { allowed: false, retryAfter: 60 })
  t.same(await guard.check('browser-b', '192.0.2.1'), { allowed: true }, 'another browser on the address is not blocked yet')
  now += 30_000
  t.same(await guard.check('browser-a', '192.0.2.1'), { allowed: false, retryAfter: 30 })
  now += 31_000
  t.same(await guard.check('browser-a', '192.0.2.1'), { allowed: true }, 'the block ends')

  // Fresh cookies do not escape the per-address count.
  for (let i = 0; i < 7; i++) await guard.failed(`cookie-${i}`, '192.0.2.1')
  t.equal((await guard.check('cookie-new', '192.0.2.1')).allowed, false, 'ten failures from one address block it')
  t.equal((await guard.check('cookie-new', '198.51.100.7')).allowed, true, 'other addresses are not affected')
})
