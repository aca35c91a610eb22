/** Claim mapping and just-in-time usernames: pure functions, no database. */
import t from 'tap'
import { ClaimMappingError, mapClaims, parseClaimMapping, usernameCandidates } from '../../src/domain/federation/claims.js'

t.test('OIDC defaults, GitHub-style oauth2 defaults, custom dotted paths', async (t) => {
  t.match(mapClaims('oidc', {}, { sub: 'abc', email: 'Ann@Example.com', email_verified: true, preferred_username: 'ann' }), { subject: 'abc', email: 'Ann@Example.com', emailVerified: true, username: 'ann' })
  t.match(mapClaims('oauth2', {}, { id: 4711, login: 'octo', email: null }), { subject: '4711', username: 'octo', email: null, emailVerified: false })
  t.match(mapClaims('oauth2', { sub: 'user.uid' }, { user: { uid: 'u-1' } }), { subject: 'u-1' })
  t.throws(() => mapClaims('oidc', {}, { email: 'a@b.example' }), ClaimMappingError, 'no subject, no identity')
  t.equal(mapClaims('oidc', {}, { sub: 'x', email: 'not an email' }).email, null)
  t.throws(() => mapClaims('oidc', {}, { sub: { toString: 'x' } }), ClaimMappingError, 'an object is not a subject')
})

t.test('the CLI syntax and its validation', async (t) => {
  t.strictSame(parseClaimMapping('sub=id, username=login'), { sub: 'id', username: 'login' })
  t.strictSame(parseClaimMapping('{"email":"mail"}'), { email: 'mail' })
  t.throws(() => parseClaimMapping('color=blue'), /unknown field/)
  t.throws(() => parseClaimMapping('sub=a b'), /must name a claim/)
})

t.test('usernames are reduced to safe characters, candidates in order', async (t) => {
  const names = usernameCandidates({ subject: '42', email: 'J.Doe@corp.example', emailVerified: true, name: null, username: 'Jöhn\u202eDoe ' }, 'corp')
  t.ok(names.every((n) => /^[a-z0-9._-]+$/.test(n)), names.join(', '))
  t.equal(names.at(-1), 'corp-42')
  t.ok(names.includes('j.doe'))
})
