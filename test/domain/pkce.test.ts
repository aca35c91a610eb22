import t from 'tap'
import { isValidChallenge, s256, verifyPKCE } from '../../src/domain/pkce.js'

t.test('RFC 7636 Appendix B example', async (t) => {
  const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
  t.equal(s256(verifier), challenge)
  t.ok(verifyPKCE(verifier, challenge, 'S256'))
  t.notOk(verifyPKCE(verifier, challenge, 'plain'), 'plain is never accepted')
  t.notOk(verifyPKCE(challenge, challenge, 'S256'), 'the challenge itself is not a verifier')
  t.notOk(verifyPKCE(undefined, challenge, 'S256'))
  t.notOk(verifyPKCE('short', s256('short'), 'S256'), 'verifier shorter than 43 characters')
  t.notOk(verifyPKCE('a'.repeat(129), s256('a'.repeat(129)), 'S256'), 'verifier longer than 128 characters')
  t.notOk(verifyPKCE('a'.repeat(42) + '!', s256('a'.repeat(42) + '!'), 'S256'), 'characters outside unreserved')
  t.ok(isValidChallenge(challenge, 'S256'))
  t.notOk(isValidChallenge(challenge, 'plain'))
  t.notOk(isValidChallenge(challenge + 'x', 'S256'))
})
