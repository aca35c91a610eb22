/**
 * DPoP at /userinfo (RFC 9449 §7) with crafted proofs, and the checks shared by all instances: a
 * proof replayed to a second instance on the same database is refused, and a nonce one instance
 * issued is accepted by the other (stateless, HMAC under the shared KEK).
 *
 * @module
 */
import t from 'tap'
import { build, createClient, createTestDatabase, createUser, postForm, testConfig } from '../../helper.js'
import { dpopKey, proof } from '../../fixtures/dpop.js'

const ISSUER = 'http://stamp.test'
const USERINFO = `${ISSUER}/userinfo`
const TOKEN = `${ISSUER}/token`

t.test('/userinfo with DPoP-bound tokens', async (t) => {
  const app = await build(t)
  const webapp = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid', 'profile'] })
  const { username, password } = await createUser(app, 'erin')
  const key = await dpopKey()
  const other = await dpopKey()
  const grant = async (dpop?: string) => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'openid profile' }, { authorization: webapp.basic, ...(dpop ? { dpop } : {}) })
    t.equal(res.statusCode, 200, res.body)
    return res.json().access_token as string
  }
  const token = await grant(await proof(key, { htu: TOKEN }))
  const bearerToken = await grant()
  const userinfo = (authorization: string, dpop?: string, method: 'GET' | 'POST' = 'GET') =>
    app.inject({ method, url: '/userinfo', headers: { authorization, ...(dpop ? { dpop } : {}) } })

  const ok = await userinfo(`DPoP ${token}`, await proof(key, { htm: 'GET', htu: USERINFO, accessToken: token }))
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.json().preferred_username, 'erin')
  const post = await userinfo(`DPoP ${token}`, await proof(key, { htm: 'POST', htu: USERINFO, accessToken: token }), 'POST')
  t.equal(post.statusCode, 200, 'POST with htm POST')
  t.equal((await userinfo(`Bearer ${bearerToken}`)).statusCode, 200, 'an unbound token stays a bearer token')

  const refused: Array<[string, () => Promise<{ authorization: string, dpop?: string }>, string]> = [
    ['no proof', async () => ({ authorization: `DPoP ${token}` }), 'invalid_dpop_proof'],
    ['missing ath', async () => ({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: USERINFO }) }), 'invalid_dpop_proof'],
    ['wrong ath', async () => ({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: USERINFO, accessToken: bearerToken }) }), 'invalid_dpop_proof'],
    ['jkt mismatch', async () => ({ authorization: `DPoP ${token}`, dpop: await proof(other, { htm: 'GET', htu: USERINFO, accessToken: token }) }), 'invalid_dpop_proof'],
    ['wrong htu', async () => ({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: TOKEN, accessToken: token }) }), 'invalid_dpop_proof'],
    ['wrong htm', async () => ({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'POST', htu: USERINFO, accessToken: token }) }), 'invalid_dpop_proof'],
    ['stale iat', async () => ({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: USERINFO, accessToken: token, iat: Math.floor(Date.now() / 1000) - 120 }) }), 'invalid_dpop_proof'],
    ['DPoP-bound token as Bearer', async () => ({ authorization: `Bearer ${token}`, dpop: await proof(key, { htm: 'GET', htu: USERINFO, accessToken: token }) }), 'invalid_token'],
    ['unbound token with the DPoP scheme', async () => ({ authorization: `DPoP ${bearerToken}`, dpop: await proof(key, { htm: 'GET', htu: USERINFO, accessToken: bearerToken }) }), 'invalid_token'],
  ]
  for (const [name, make, error] of refused) {
    const { authorization, dpop } = await make()
    const res = await userinfo(authorization, dpop)
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().error, error, `${name}: ${res.json().error_description}`)
    t.match(res.headers['www-authenticate'], /DPoP algs="ES256 RS256 PS256 EdDSA"/, `${name}: the DPoP challenge`)
    if (error === 'invalid_dpop_proof') t.match(res.headers['www-authenticate'], /DPoP algs="[^"]+", error="invalid_dpop_proof"/, `${name}: the error goes with the DPoP challenge`)
  }

  const once = await proof(key, { htm: 'GET', htu: USERINFO, accessToken: token })
  t.equal((await userinfo(`DPoP ${token}`, once)).statusCode, 200)
  const replay = await userinfo(`DPoP ${token}`, once)
  t.equal(replay.statusCode, 401, 'a replayed proof')
  t.equal(replay.json().error, 'invalid_dpop_proof')
})

t.test('two instances on one database: replay refused by the other, nonces accepted by both', async (t) => {
  const url = await createTestDatabase(t)
  const config = testConfig(url, { DPOP_NONCE: 'true' })
  const a = await build(t, { databaseUrl: url, config })
  const b = await build(t, { databaseUrl: url, config })
  const service = await createClient(a, { grantTypes: ['client_credentials'], scopes: ['read'] })
  const key = await dpopKey()
  const cc = (app: typeof a, dpop: string) => postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: service.basic, dpop })

  const first = await cc(a, await proof(key, { htu: TOKEN }))
  t.equal(first.json().error, 'use_dpop_nonce')
  const nonce = first.headers['dpop-nonce'] as string
  const once = await proof(key, { htu: TOKEN, nonce })
  t.equal((await cc(a, once)).statusCode, 200, 'instance A accepts its nonce')
  const replay = await cc(b, once)
  t.equal(replay.statusCode, 400, 'instance B refuses the replay')
  t.equal(replay.json().error, 'invalid_dpop_proof')
  t.match(replay.json().error_description, /already used/)
  const fresh = await cc(b, await proof(key, { htu: TOKEN, nonce }))
  t.equal(fresh.statusCode, 200, 'instance B accepts the nonce A issued')
  // Concurrent presentations of one proof to both instances: exactly one wins.
  const race = await proof(key, { htu: TOKEN, nonce })
  const results = await Promise.all([cc(a, race), cc(b, race), cc(a, race), cc(b, race)])
  t.equal(results.filter((r) => r.statusCode === 200).length, 1, 'one of four concurrent presentations succeeds')
})
