/**
 * Unit tests for the pure key functions: generation per algorithm, the public-member allow-list,
 * and the timing rules. No database.
 *
 * @module
 */
import t from 'tap'
import { exportJWK, generateKeyPair } from 'jose'
import { generateSigningKey, nextIsPublishedLongEnough, prePublicationSeconds, publishedJwk, retiringGraceSeconds, rotationDue, toPublicJwk } from '../../src/domain/keys.js'
import { SIGNING_ALGS } from '../../src/config/defaults.js'
import { PRIVATE_MEMBERS } from '../fixtures/keys.js'

t.test('generateSigningKey: every supported algorithm; kid is the RFC 7638 thumbprint; public half has no private members', async (t) => {
  const expected = { RS256: 'RSA', PS256: 'RSA', ES256: 'EC', EdDSA: 'OKP' } as const
  for (const alg of SIGNING_ALGS) {
    const key = await generateSigningKey(alg)
    t.equal(key.alg, alg)
    t.equal(key.publicJwk.kty, expected[alg], `${alg} key type`)
    t.match(key.kid, /^[A-Za-z0-9_-]{43}$/, `${alg} kid is a SHA-256 thumbprint`)
    t.ok(key.privateJwk.d, `${alg} private half has d`)
    for (const m of PRIVATE_MEMBERS) t.notOk(m in key.publicJwk, `${alg} public half has no ${m}`)
    if (alg === 'EdDSA') t.equal(key.publicJwk.crv, 'Ed25519')
    if (alg === 'ES256') t.equal(key.publicJwk.crv, 'P-256')
  }
})

t.test('toPublicJwk keeps only the allow-listed members, whatever the input carries', async (t) => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'x', use: 'enc', x5c: ['junk'] }
  t.same(Object.keys(toPublicJwk(jwk)).sort(), ['e', 'kty', 'n'])
  t.same(Object.keys(publishedJwk({ kid: 'k1', alg: 'RS256', publicJwk: jwk })).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'])
  t.throws(() => toPublicJwk({ kty: 'oct', k: 'secret' }), TypeError)
})

const policy = { accessTokenTTL: 300, refreshTokenTTL: 86_400, clockSkew: 60, jwksMaxAge: 300, keyRefreshInterval: 5, keyRotationInterval: 30 * 86_400 }

t.test('retiring grace: longest token TTL + clock skew + JWKS max-age + refresh interval', async (t) => {
  t.equal(retiringGraceSeconds(policy), 86_400 + 60 + 300 + 5)
  t.equal(retiringGraceSeconds({ ...policy, refreshTokenTTL: 60, accessTokenTTL: 600, keyRefreshInterval: 0.2 }), 600 + 60 + 300 + 1)
})

t.test('pre-publication: JWKS max-age plus one refresh interval (rounded up)', async (t) => {
  t.equal(prePublicationSeconds(policy), 305)
  t.equal(prePublicationSeconds({ jwksMaxAge: 1, keyRefreshInterval: 0.2 }), 2)
  const created = new Date('2025-01-01T00:00:00Z')
  const next = { status: 'next' as const, createdAt: created, activatedAt: null }
  t.notOk(nextIsPublishedLongEnough(next, new Date(created.getTime() + 304_999), policy))
  t.ok(nextIsPublishedLongEnough(next, new Date(created.getTime() + 305_000), policy))
})

t.test('rotationDue needs both: the active key served its interval and the next key is pre-published', async (t) => {
  const t0 = new Date('2025-01-01T00:00:00Z').getTime()
  const p = { ...policy, keyRotationInterval: 3600 }
  const active = { status: 'active' as const, createdAt: new Date(t0), activatedAt: new Date(t0) }
  const next = { status: 'next' as const, createdAt: new Date(t0), activatedAt: null }
  t.notOk(rotationDue(active, next, new Date(t0 + 3_599_000), p), 'interval not over')
  t.ok(rotationDue(active, next, new Date(t0 + 3_600_000), p), 'interval over')
  const youngNext = { ...next, createdAt: new Date(t0 + 3_500_000) }
  t.notOk(rotationDue(active, youngNext, new Date(t0 + 3_600_000), p), 'next key published only 100 s ago')
  t.ok(rotationDue(active, youngNext, new Date(t0 + 3_805_000), p))
  t.ok(rotationDue({ ...active, activatedAt: null }, next, new Date(t0 + 3_600_000), p), 'falls back to created_at')
})
