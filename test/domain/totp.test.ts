import t from 'tap'
import { base32Decode, base32Encode, hotp, matchingStep, otpauthURI, timeStep, totp } from '../../src/domain/totp.js'
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from '../../src/domain/recovery_codes.js'

// RFC 6238 Appendix B: the seeds are ASCII "12345678901234567890" repeated to the hash's size; 8 digits.
const SEEDS = {
  sha1: Buffer.from('12345678901234567890'),
  sha256: Buffer.from('12345678901234567890123456789012'),
  sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
}
const VECTORS: Array<[number, string, keyof typeof SEEDS]> = [
  [59, '94287082', 'sha1'], [59, '46119246', 'sha256'], [59, '90693936', 'sha512'],
  [1111111109, '07081804', 'sha1'], [1111111109, '68084774', 'sha256'], [1111111109, '25091201', 'sha512'],
  [1111111111, '14050471', 'sha1'], [1111111111, '67062674', 'sha256'], [1111111111, '99943326', 'sha512'],
  [1234567890, '89005924', 'sha1'], [1234567890, '91819424', 'sha256'], [1234567890, '93441116', 'sha512'],
  [2000000000, '69279037', 'sha1'], [2000000000, '90698825', 'sha256'], [2000000000, '38618901', 'sha512'],
  [20000000000, '65353130', 'sha1'], [20000000000, '77737706', 'sha256'], [20000000000, '47863826', 'sha512'],
]

t.test('RFC 6238 Appendix B test vectors', async (t) => {
  for (const [time, expected, alg] of VECTORS) {
    t.equal(hotp(SEEDS[alg], timeStep(time * 1000), 8, alg), expected, `T=${time} ${alg}`)
  }
})

t.test('RFC 4648 base32 round trip and the 6-digit SHA-1 default', async (t) => {
  t.equal(base32Encode(Buffer.from('12345678901234567890')), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')
  t.same(base32Decode('gezd gnbv-gy3tqojqgezdgnbvgy3tqojq'), Buffer.from('12345678901234567890'))
  t.equal(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000), '287082', 'the last six digits of the SHA-1 vector')
})

t.test('verification allows ±1 step and nothing further', async (t) => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
  const now = 1_700_000_000_000
  const step = timeStep(now)
  t.equal(matchingStep(secret, totp(secret, now), now), step)
  t.equal(matchingStep(secret, totp(secret, now - 30_000), now), step - 1)
  t.equal(matchingStep(secret, totp(secret, now + 30_000), now), step + 1)
  t.equal(matchingStep(secret, totp(secret, now - 60_000), now), null, 'two steps old')
  t.equal(matchingStep(secret, totp(secret, now + 60_000), now), null, 'two steps ahead')
  t.equal(matchingStep(secret, 'abcdef', now), null)
  t.equal(matchingStep(secret, '12345', now), null)
})

t.test('otpauth URI', async (t) => {
  const uri = new URL(otpauthURI('ABC', 'Stamp', 'alice@example.com'))
  t.equal(uri.protocol, 'otpauth:')
  t.ok(uri.href.startsWith('otpauth://totp/Stamp%3Aalice%40example.com?'), 'label is issuer:account, encoded')
  t.equal(uri.searchParams.get('secret'), 'ABC')
  t.equal(uri.searchParams.get('issuer'), 'Stamp')
  t.equal(uri.searchParams.get('digits'), '6')
  t.equal(uri.searchParams.get('period'), '30')
})

t.test('recovery codes: ten, distinct, normalized, hashed', async (t) => {
  const codes = newRecoveryCodes()
  t.equal(codes.length, 10)
  t.equal(new Set(codes).size, 10)
  for (const c of codes) t.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/)
  t.equal(normalizeRecoveryCode(` ${codes[0].toUpperCase().replace('-', ' ')} `), codes[0].replace('-', ''))
  t.equal(hashRecoveryCode(codes[0]), hashRecoveryCode(codes[0].toUpperCase()))
  t.not(hashRecoveryCode(codes[0]), hashRecoveryCode(codes[1]))
  t.equal(hashRecoveryCode('not a code!'), null)
  t.notMatch(hashRecoveryCode(codes[0])!, codes[0].replace('-', ''), 'the hash does not contain the code')
})
