/**
 * The zero-failure promise of issue 4, taken literally: a verifier that fetched the JWKS once and
 * froze it verifies every token issued after the next rotation (it holds the pre-published next
 * key), and every token issued before a rotation keeps verifying against the current JWKS until it
 * expires. Repeated over several rotations, refetching between them as a cache expiry would.
 *
 * @module
 */
import t from 'tap'
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose'
import { build, createClient } from '../helper.js'
import { fakeClock, fetchJWKS, issueAccessToken, kidOf } from '../fixtures/keys.js'

const ENV = { ACCESS_TOKEN_TTL: '60', REFRESH_TOKEN_TTL: '60', JWKS_MAX_AGE: '10', KEY_REFRESH_INTERVAL: '1' }
const PRE_PUBLICATION = 11 // JWKS_MAX_AGE + KEY_REFRESH_INTERVAL

t.test('a frozen JWKS verifies every token issued after the next rotation; old tokens verify until expiry', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now })
  const { basic } = await createClient(app)
  const verify = (token: string, jwks: JWTVerifyGetKey, currentDate = clock.now()) => jwtVerify(token, jwks, {
    issuer: 'http://stamp.test', audience: 'https://api.example.com', typ: 'at+jwt', algorithms: ['RS256'], currentDate,
  })
  const expOf = (token: string): number => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp
  const earlier: string[] = []

  for (let round = 1; round <= 3; round++) {
    // Fetch once and freeze, as a verifier's cache does for max-age.
    const document = await fetchJWKS(app)
    const frozen = createLocalJWKSet(document)
    const before = await Promise.all([1, 2, 3].map(() => issueAccessToken(app, basic)))
    for (const token of before) await verify(token, frozen)

    clock.advance(PRE_PUBLICATION) // the earliest moment an un-forced rotation is allowed
    const { active } = await app.keyring.rotate()
    t.ok(document.keys.some((k) => k.kid === active), `round ${round}: the new active key was already in the frozen JWKS`)

    const after = await Promise.all([1, 2, 3].map(() => issueAccessToken(app, basic)))
    let ok = 0
    for (const token of after) {
      t.equal(kidOf(token), active)
      await verify(token, frozen)
      ok++
    }
    t.equal(ok, 3, `round ${round}: every token issued after the rotation verifies against the frozen JWKS`)

    earlier.push(...before)
    const current = createLocalJWKSet(await fetchJWKS(app))
    for (const token of earlier) await verify(token, current)
    t.pass(`round ${round}: all ${earlier.length} tokens issued before any rotation verify against the current JWKS`)
    earlier.push(...after)
  }

  // Move to one second before the last of them expires; maintenance must not have dropped any key
  // they need. Keys only ever leave the set, so each token is checked at its own exp - 1 s.
  const lastExp = Math.max(...earlier.map(expOf))
  clock.advance((lastExp * 1000 - 1000 - clock.now().getTime()) / 1000)
  await app.keyring.tick()
  const current = createLocalJWKSet(await fetchJWKS(app))
  for (const token of earlier) await verify(token, current, new Date((expOf(token) - 1) * 1000))
  t.pass(`all ${earlier.length} tokens verify against the current JWKS up to their expiry`)
})
