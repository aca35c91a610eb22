/**
 * DPoP at the token endpoint (RFC 9449 §5): bound access tokens (`cnf.jkt`, `token_type: DPoP`),
 * the per-client requirement (§5.2 `dpop_bound_access_tokens`), and every §4.3 check on crafted
 * proofs, against the real app on PostgreSQL.
 *
 * @module
 */
import t from 'tap'
import { decodeJwt, SignJWT } from 'jose'
import { build, createClient, postForm } from '../../helper.js'
import { dpopKey, proof } from '../../fixtures/dpop.js'

const ISSUER = 'http://stamp.test'
const TOKEN = `${ISSUER}/token`

const app = await build(t)
const service = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] })
const bound = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['read'], dpopBoundAccessTokens: true })
const key = await dpopKey()

const cc = (client: typeof service, dpop?: string) =>
  postForm(app, '/token', { grant_type: 'client_credentials', scope: 'read' }, { authorization: client.basic, ...(dpop ? { dpop } : {}) })

t.test('a valid proof binds the access token to its key', async (t) => {
  const res = await cc(service, await proof(key, { htu: TOKEN }))
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.equal(body.token_type, 'DPoP')
  t.same(decodeJwt(body.access_token).cnf, { jkt: key.jkt })
  const plain = await cc(service)
  t.equal(plain.json().token_type, 'Bearer')
  t.equal(decodeJwt(plain.json().access_token).cnf, undefined)
})

t.test('dpop_bound_access_tokens: no proof, no token', async (t) => {
  const res = await cc(bound)
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_dpop_proof')
  t.equal(res.headers['cache-control'], 'no-store')
  const ok = await cc(bound, await proof(key, { htu: TOKEN }))
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().token_type, 'DPoP')
})

t.test('crafted proofs are refused with invalid_dpop_proof', async (t) => {
  const other = await dpopKey()
  const rsa = await dpopKey('RS256')
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, () => Promise<string>]> = [
    ['wrong htu', () => proof(key, { htu: `${ISSUER}/introspect` })],
    ['htu of another host', () => proof(key, { htu: 'http://evil.test/token' })],
    ['wrong htm', () => proof(key, { htu: TOKEN, htm: 'GET' })],
    ['stale iat', () => proof(key, { htu: TOKEN, iat: now - 600 })],
    ['iat in the future', () => proof(key, { htu: TOKEN, iat: now + 600 })],
    ['no jti', () => proof(key, { htu: TOKEN, claims: { jti: undefined } })],
    ['no iat', () => proof(key, { htu: TOKEN, claims: { iat: undefined } })],
    ['wrong typ', () => proof(key, { htu: TOKEN, header: { typ: 'JWT' } })],
    ['jwk of another key', () => proof(key, { htu: TOKEN, header: { jwk: other.publicJwk } })],
    ['private key in the header', async () => {
      const { exportJWK } = await import('jose')
      return proof(key, { htu: TOKEN, header: { jwk: await exportJWK(key.privateKey) } })
    }],
    ['alg not fitting the key (ES256 header, RSA jwk)', () => proof(key, { htu: TOKEN, header: { jwk: rsa.publicJwk } })],
    ['alg none', async () => {
      const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
      return `${enc({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk })}.${enc({ jti: 'x', htm: 'POST', htu: TOKEN, iat: now })}.`
    }],
    ['alg HS256', async () => {
      const secret = new TextEncoder().encode('a shared secret that is long enough!!')
      return new SignJWT({ jti: 'hs', htm: 'POST', htu: TOKEN, iat: now }).setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } } as never).sign(secret)
    }],
    ['not a JWT', async () => 'not-a-jwt'],
  ]
  for (const [name, make] of cases) {
    const res = await cc(service, await make())
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().error, 'invalid_dpop_proof', `${name}: ${res.json().error_description}`)
  }
  const twice = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic, dpop: `${await proof(key, { htu: TOKEN })}, ${await proof(key, { htu: TOKEN })}` })
  t.equal(twice.json().error, 'invalid_dpop_proof', 'two DPoP headers')
})

t.test('a replayed proof is refused', async (t) => {
  const once = await proof(key, { htu: TOKEN })
  t.equal((await cc(service, once)).statusCode, 200)
  const again = await cc(service, once)
  t.equal(again.statusCode, 400)
  t.equal(again.json().error, 'invalid_dpop_proof')
  t.match(again.json().error_description, /already used/)
})

t.test('RS256, PS256 and EdDSA proofs are accepted', async (t) => {
  for (const alg of ['RS256', 'PS256', 'EdDSA']) {
    const k = await dpopKey(alg)
    const res = await cc(service, await proof(k, { htu: TOKEN }))
    t.equal(res.statusCode, 200, `${alg}: ${res.body}`)
    t.same(decodeJwt(res.json().access_token).cnf, { jkt: k.jkt }, alg)
  }
})
