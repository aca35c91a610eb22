/**
 * Keyring lifecycle on real PostgreSQL with an injected clock: start/repair, manual and scheduled
 * rotation, retirement after the deadline, emergency revoke, rewrap, and algorithm migration.
 * Time moves with `clock.advance` and `app.keyring.tick()`, never with sleeps.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { build, createClient, createTestDatabase, createUser, postForm } from '../helper.js'
import { generateKEKValue, kekFromBase64url, open } from '../../src/crypto/kek.js'
import { Keyring, KeyLifecycleError } from '../../src/domain/keyring.js'
import { prismaKeyStore } from '../../src/storage/prisma/keys.js'
import { countBy, fakeClock, fetchJWKS, issueAccessToken, kidOf, statuses } from '../fixtures/keys.js'

const ISSUER = 'http://stamp.test'
const silent = { info () {}, warn () {}, error () {} }
// Short lifetimes so retirement deadlines are small numbers; the clock is fake anyway.
const ENV = { ACCESS_TOKEN_TTL: '60', REFRESH_TOKEN_TTL: '120', JWKS_MAX_AGE: '30', KEY_REFRESH_INTERVAL: '2', KEY_ROTATION_INTERVAL: '600' }
// max(60, 120) + 60 (clock skew) + 30 + 2
const GRACE = 212
const PRE_PUBLICATION = 32

t.test('start creates exactly one active and one next key; a second start on the same database adds none', async (t) => {
  const url = await createTestDatabase(t)
  const kek = generateKEKValue()
  const env = { ...ENV, KEY_ENCRYPTION_KEY: kek }
  const [a, b] = await Promise.all([build(t, { databaseUrl: url, env }), build(t, { databaseUrl: url, env })])
  const s = await statuses(a)
  t.equal(Object.keys(s).length, 2, 'two concurrent first starts create two keys, not four')
  t.equal(countBy(s, 'active'), 1)
  t.equal(countBy(s, 'next'), 1)
  t.equal(a.keyring.signingKey().kid, b.keyring.signingKey().kid, 'both instances sign with the same key')
  t.equal(a.keyring.jwks().etag, b.keyring.jwks().etag, 'and serve the same JWKS')
  t.equal((await fetchJWKS(a)).keys.length, 2, 'JWKS = next + active')
})

t.test('rotation: refused while the next key is young, then next → active → retiring in one step', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now })
  const before = await statuses(app)
  const oldActive = app.keyring.signingKey().kid
  const oldNext = Object.keys(before).find((k) => before[k] === 'next')!

  await t.rejects(app.keyring.rotate(), KeyLifecycleError, 'next key not yet published for JWKS_MAX_AGE + KEY_REFRESH_INTERVAL')
  clock.advance(PRE_PUBLICATION - 1)
  await t.rejects(app.keyring.rotate(), /less than JWKS_MAX_AGE/)
  t.same(await statuses(app), before, 'a refused rotation changes nothing')

  clock.advance(1)
  const result = await app.keyring.rotate()
  t.same({ active: result.active, retiring: result.retiring }, { active: oldNext, retiring: oldActive })
  const after = await statuses(app)
  t.same([after[oldActive], after[oldNext], after[result.next]], ['retiring', 'active', 'next'])
  t.equal(app.keyring.signingKey().kid, oldNext, 'this instance signs with the new key at once')
  const row = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: oldActive } })
  t.equal(row.retireAfter!.getTime() - row.retiringAt!.getTime(), GRACE * 1000, 'retiring kept for the full grace period')
  t.same((await fetchJWKS(app)).keys.map((k) => k.kid).sort(), [oldActive, oldNext, result.next].sort(), 'JWKS = next + active + retiring')

  const forced = await app.keyring.rotate({ force: true })
  t.equal(forced.active, result.next, '--force promotes even a young next key')
})

t.test('scheduled rotation happens once the interval is over, and only then', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now })
  const first = app.keyring.signingKey().kid
  clock.advance(599)
  await app.keyring.tick()
  t.equal(app.keyring.signingKey().kid, first, 'not yet due')
  clock.advance(1)
  await app.keyring.tick()
  const second = app.keyring.signingKey().kid
  t.not(second, first, 'rotated at the interval')
  await app.keyring.tick()
  t.equal(app.keyring.signingKey().kid, second, 'a second tick does not rotate again')
  t.equal(countBy(await statuses(app), 'retiring'), 1)
})

t.test('retirement: a retiring key leaves the JWKS at its deadline and loses its private key', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now })
  const { basic } = await createClient(app)
  const oldToken = await issueAccessToken(app, basic)
  const oldKid = kidOf(oldToken)
  clock.advance(PRE_PUBLICATION)
  await app.keyring.rotate()
  const etag = app.keyring.jwks().etag

  clock.advance(GRACE - 1)
  await app.keyring.tick()
  t.ok((await fetchJWKS(app)).keys.some((k) => k.kid === oldKid), 'still published one second before the deadline')
  t.equal(app.keyring.jwks().etag, etag, 'a tick with nothing to do leaves the JWKS (and its ETag) alone')
  const introspectBefore = await postForm(app, '/introspect', { token: oldToken }, { authorization: basic })
  t.equal(introspectBefore.json().active, true, 'Stamp still accepts its own token signed by the retiring key')

  clock.advance(1)
  await app.keyring.tick()
  const jwks = await fetchJWKS(app)
  t.notOk(jwks.keys.some((k) => k.kid === oldKid), 'gone from the JWKS after the deadline')
  t.equal(jwks.keys.length, 2)
  t.not(app.keyring.jwks().etag, etag, 'ETag changed with the set')
  const row = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: oldKid } })
  t.equal(row.status, 'retired')
  t.equal(row.privateKeyEnc, null, 'private key destroyed')
  t.ok(row.retiredAt)
  t.equal((await postForm(app, '/introspect', { token: oldToken }, { authorization: basic })).json().active, false)
})

t.test('retiring keys outlive every token they signed: deadline ≥ token exp + skew + max-age', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now })
  const { basic } = await createClient(app)
  clock.advance(PRE_PUBLICATION)
  const token = await issueAccessToken(app, basic) // signed just before the rotation
  await app.keyring.rotate()
  const row = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: kidOf(token) } })
  const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  // The token's exp is in real time, the rotation in fake time that started at real time.
  t.ok(row.retireAfter!.getTime() >= exp * 1000 + (60 + 30) * 1000, 'retire_after covers expiry + clock skew + JWKS max-age')
})

async function passwordSetup (t: Test, app: Awaited<ReturnType<typeof build>>) {
  const { basic } = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token', 'client_credentials'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const res = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'read' }, { authorization: basic })
  t.equal(res.statusCode, 200)
  return { basic, refreshToken: res.json().refresh_token as string }
}

t.test('revoke the active key: gone from the JWKS at once, its refresh families revoked, next promoted', async (t) => {
  const clock = fakeClock()
  const app = await build(t, { env: ENV, now: clock.now })
  const { basic, refreshToken } = await passwordSetup(t, app)
  const { refreshToken: second } = await passwordSetup(t, app)
  const before = await statuses(app)
  const compromised = app.keyring.signingKey().kid
  const next = Object.keys(before).find((k) => before[k] === 'next')!
  const oldJwks = app.keyring.jwks()

  const result = await app.keyring.revoke(compromised)
  t.equal(result.revoked, compromised)
  t.equal(result.active, next, 'the next key is promoted')
  t.equal(result.refreshFamiliesRevoked, 2, 'both families signed with it are revoked')
  const jwks = await fetchJWKS(app)
  t.notOk(jwks.keys.some((k) => k.kid === compromised), 'removed from the JWKS immediately (no grace period)')
  t.equal(jwks.keys.length, 2, 'new active + a fresh next')
  t.not(app.keyring.jwks().etag, oldJwks.etag)
  t.equal(app.keyring.signingKey().kid, next)
  const after = await statuses(app)
  t.same([countBy(after, 'active'), countBy(after, 'next'), after[compromised]], [1, 1, 'revoked'])
  const row = await app.prisma.signingKey.findUniqueOrThrow({ where: { kid: compromised } })
  t.equal(row.privateKeyEnc, null, 'private key destroyed')
  const families = await app.prisma.refreshToken.findMany({ where: { kid: compromised } })
  t.ok(families.length === 2 && families.every((r) => r.revokedAt), 'refresh-token rows revoked in the database')

  for (const token of [refreshToken, second]) {
    const res = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: token }, { authorization: basic })
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'invalid_grant', 'refresh grant fails')
  }
  const fresh = await issueAccessToken(app, basic)
  t.equal(kidOf(fresh), next, 'new tokens use the promoted key')
  await t.rejects(app.keyring.revoke(compromised), /already revoked/)
  await t.rejects(app.keyring.revoke('no-such-kid'), /no key with kid/)
})

t.test('revoke the next key: a new next is published; the active key and refresh tokens are untouched', async (t) => {
  const app = await build(t, { env: ENV })
  const { basic, refreshToken } = await passwordSetup(t, app)
  const s = await statuses(app)
  const next = Object.keys(s).find((k) => s[k] === 'next')!
  const active = app.keyring.signingKey().kid
  const result = await app.keyring.revoke(next)
  t.equal(result.active, active)
  t.equal(result.refreshFamiliesRevoked, 0)
  const after = await statuses(app)
  t.same([countBy(after, 'active'), countBy(after, 'next'), after[next]], [1, 1, 'revoked'])
  t.notOk((await fetchJWKS(app)).keys.some((k) => k.kid === next))
  const res = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: basic })
  t.equal(res.statusCode, 200, 'refresh still works')
})

t.test('rewrap: a keyring with the new KEK loads and signs; the old KEK no longer opens any key', async (t) => {
  const url = await createTestDatabase(t)
  const oldValue = generateKEKValue()
  const clock = fakeClock()
  const app = await build(t, { databaseUrl: url, env: { ...ENV, KEY_ENCRYPTION_KEY: oldValue }, now: clock.now })
  clock.advance(PRE_PUBLICATION)
  await app.keyring.rotate() // three sealed keys: retiring, active, next
  const newKek = kekFromBase64url(generateKEKValue())
  const oldKek = kekFromBase64url(oldValue)
  t.same(await app.keyring.rewrap(newKek), { rewrapped: 3, others: 0 })

  const rows = await app.prisma.signingKey.findMany({ where: { privateKeyEnc: { not: null } } })
  t.equal(rows.length, 3)
  for (const row of rows) {
    t.equal(row.kekId, newKek.id)
    t.ok(JSON.parse(open(newKek, row.privateKeyEnc!, row.kid)).d, 'opens with the new KEK')
    t.throws(() => open(oldKek, row.privateKeyEnc!, row.kid), 'the old KEK fails')
    t.throws(() => open({ ...oldKek, id: newKek.id }, row.privateKeyEnc!, row.kid), 'even with a forged KEK id (GCM tag check)')
  }
  // The rewrapping keyring switched to the new KEK: it can still rotate (seal) and reload (open).
  clock.advance(PRE_PUBLICATION)
  await app.keyring.rotate()

  const store = prismaKeyStore(app.prisma)
  const policy = app.config.policy
  const fresh = new Keyring({ store, kek: newKek, policy, log: silent })
  await fresh.start({ schedule: false })
  const { basic } = await createClient(app)
  const token = await issueAccessToken(app, basic)
  t.equal(fresh.signingKey().kid, kidOf(token))
  const stale = new Keyring({ store, kek: oldKek, policy, log: silent })
  await t.rejects(stale.start({ schedule: false }), /sealed under KEK/, 'a keyring with the old KEK cannot start')
})

t.test('ES256, EdDSA and PS256 each issue tokens that verify', async (t) => {
  for (const alg of ['ES256', 'EdDSA', 'PS256']) {
    const app = await build(t, { env: { SIGNING_ALG: alg } })
    const { basic } = await createClient(app)
    const token = await issueAccessToken(app, basic)
    const jwks = await fetchJWKS(app)
    t.ok(jwks.keys.every((k) => k.alg === alg), `${alg}: every published key uses it`)
    const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: 'https://api.example.com', typ: 'at+jwt', algorithms: [alg] })
    t.equal(protectedHeader.alg, alg)
    const meta = (await app.inject('/.well-known/openid-configuration')).json()
    t.ok(meta.id_token_signing_alg_values_supported.includes(alg), `${alg} advertised in discovery`)
  }
})

t.test('RS256 → ES256 migration: new next keys are ES256, RS256 keys stay published until retired', async (t) => {
  const url = await createTestDatabase(t)
  const kek = generateKEKValue()
  const clock = fakeClock()
  const rsa = await build(t, { databaseUrl: url, env: { ...ENV, KEY_ENCRYPTION_KEY: kek }, now: clock.now })
  const { basic } = await createClient(rsa)
  const rsaToken = await issueAccessToken(rsa, basic)
  t.equal((await fetchJWKS(rsa)).keys.map((k) => k.alg).join(), 'RS256,RS256')

  // Redeploy with SIGNING_ALG=ES256 on the same database.
  const ec = await build(t, { databaseUrl: url, env: { ...ENV, KEY_ENCRYPTION_KEY: kek, SIGNING_ALG: 'ES256' }, now: clock.now })
  t.equal(ec.keyring.signingKey().alg, 'RS256', 'the existing RS256 key keeps signing: switching needs a pre-published key')
  clock.advance(PRE_PUBLICATION)
  await ec.keyring.rotate()
  let jwks = await fetchJWKS(ec)
  t.same(jwks.keys.map((k) => `${k.alg}:${(ec.keyring.published().find((p) => p.kid === k.kid))!.status}`),
    ['RS256:active', 'ES256:next', 'RS256:retiring'], 'first rotation: the RS256 next key becomes active, the new next key is ES256')
  const frozen = createLocalJWKSet(jwks)

  clock.advance(PRE_PUBLICATION)
  await ec.keyring.rotate()
  jwks = await fetchJWKS(ec)
  t.same(jwks.keys.map((k) => k.alg), ['ES256', 'ES256', 'RS256', 'RS256'], 'ES256 active and next; both RS256 keys retiring, still published')
  const ecToken = await issueAccessToken(ec, basic)
  const opts = { issuer: ISSUER, audience: 'https://api.example.com', typ: 'at+jwt', algorithms: ['RS256', 'ES256'] }
  t.equal((await jwtVerify(ecToken, frozen, opts)).protectedHeader.alg, 'ES256', 'ES256 token verifies against the JWKS cached before the switch')
  t.equal((await jwtVerify(rsaToken, createLocalJWKSet(jwks), opts)).protectedHeader.alg, 'RS256', 'old RS256 token still verifies')
  for (const token of [rsaToken, ecToken]) {
    t.equal((await postForm(ec, '/introspect', { token }, { authorization: basic })).json().active, true, 'Stamp accepts its own tokens of both algorithms')
  }
  const meta = (await ec.inject('/.well-known/openid-configuration')).json()
  t.same(meta.id_token_signing_alg_values_supported.sort(), ['ES256', 'RS256'], 'discovery advertises both during the migration')

  clock.advance(GRACE)
  await ec.keyring.tick()
  t.same((await fetchJWKS(ec)).keys.map((k) => k.alg), ['ES256', 'ES256'], 'RS256 keys gone once retired')
  // An instance not yet redeployed (still SIGNING_ALG=RS256) follows the shared key set.
  await rsa.keyring.refresh()
  t.equal(rsa.keyring.signingKey().alg, 'ES256', 'an instance still configured for RS256 signs with whatever key is active')
})
