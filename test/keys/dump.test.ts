/**
 * A database dump never contains a usable private key (issue 4 §5): `pg_dump` of a database with
 * keys in every state has no private JWK member and no PEM, and each sealed key opens only with
 * the KEK (a wrong one, even under a forged KEK id, fails GCM authentication).
 *
 * @module
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { build, createClient, createTestDatabase, createUser, postForm } from '../helper.js'
import { generateKEKValue, kekFromBase64url, open } from '../../src/crypto/kek.js'
import { fakeClock, PRIVATE_MEMBERS } from '../fixtures/keys.js'

const run = promisify(execFile)

t.test('pg_dump holds no private key material; sealed keys open only with the KEK', async (t) => {
  const url = await createTestDatabase(t)
  const kekValue = generateKEKValue()
  const clock = fakeClock()
  const app = await build(t, { databaseUrl: url, env: { KEY_ENCRYPTION_KEY: kekValue, ACCESS_TOKEN_TTL: '60', REFRESH_TOKEN_TTL: '60' }, now: clock.now })
  const { basic } = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  t.equal((await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'read' }, { authorization: basic })).statusCode, 200)
  // Keys in every state: retired, revoked, retiring, active, next.
  await app.keyring.rotate({ force: true })
  clock.advance(3600)
  await app.keyring.tick() // past the first key's retirement deadline (425 s), well before the next rotation
  await app.keyring.rotate({ force: true })
  await app.keyring.revoke((await app.prisma.signingKey.findFirstOrThrow({ where: { status: 'next' } })).kid)
  const states = (await app.prisma.signingKey.findMany()).map((k) => k.status).sort()
  t.same(states, ['active', 'next', 'retired', 'retiring', 'revoked'])

  const database = new URL(url).pathname.slice(1)
  const { stdout: dump } = await run('pg_dump', ['-h', '127.0.0.1', '-U', 'postgres', database], { maxBuffer: 64 * 1024 * 1024 })
  t.match(dump, /COPY public\.signing_keys/, 'the dump does contain the key table')
  t.match(dump, /"kty": "RSA"/, 'and the public keys')
  for (const member of PRIVATE_MEMBERS) {
    t.notMatch(dump, new RegExp(`"${member}"\\s*:`), `no JWK private member "${member}"`)
  }
  t.notMatch(dump, /-----BEGIN/, 'no PEM')
  t.notMatch(dump, /PRIVATE KEY/, 'no PKCS#8 label')
  t.notOk(dump.includes(kekValue), 'nor the KEK')

  const kek = kekFromBase64url(kekValue)
  const wrong = kekFromBase64url(generateKEKValue())
  const sealed = await app.prisma.signingKey.findMany({ where: { privateKeyEnc: { not: null } } })
  t.equal(sealed.length, 3, 'only active, next and retiring keep a sealed private key')
  for (const row of sealed) {
    t.ok(dump.includes(row.privateKeyEnc!), 'the dump holds the sealed form')
    const jwk = JSON.parse(open(kek, row.privateKeyEnc!, row.kid))
    t.ok(jwk.d, 'the right KEK opens it to a private JWK')
    t.notOk(dump.includes(jwk.d), 'whose d appears nowhere in the dump')
    t.throws(() => open(wrong, row.privateKeyEnc!, row.kid), /sealed under KEK/, 'a wrong KEK is refused')
    t.throws(() => open({ ...wrong, id: kek.id }, row.privateKeyEnc!, row.kid), 'and fails authentication even with a forged KEK id')
    t.throws(() => open(kek, row.privateKeyEnc!, 'another-kid'), 'the kid is bound as AAD: a sealed key cannot be moved to another row')
  }
})
