/**
 * DPoP at the pushed authorization request endpoint (RFC 9449 §10.1): a proof sent to /par, or
 * `dpop_jkt` among the pushed parameters, binds the authorization code to that key; the token
 * request must then prove the same key. Both together must name the same key.
 *
 * @module
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, pkce } from '../../fixtures/browser.js'
import { dpopKey, proof, type DPoPKey } from '../../fixtures/dpop.js'

const CB = 'https://app.example/cb'
const PAR = `${ISSUER}/par`
const TOKEN = `${ISSUER}/token`
const app = await build(t)
const web = await createClient(app, { name: 'Web', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [CB], scopes: ['openid'] })
const alice = await createUser(app, 'alice-par-dpop')
const key = await dpopKey()
const other = await dpopKey()
const { challenge, verifier } = pkce()
const base = { response_type: 'code', redirect_uri: CB, scope: 'openid', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' }

function push (form: Record<string, string>, dpop?: string) {
  return postForm(app, '/par', form, { authorization: web.basic, ...(dpop ? { dpop } : {}) })
}

/** Signs in through the pushed request and returns the code. */
async function codeFor (requestUri: string): Promise<string> {
  const browser = new Browser(app)
  const page = await browser.follow(authorizeURL({ client_id: web.client.id, request_uri: requestUri }))
  const callback = (await browser.signIn(page.res, alice.username, alice.password)).location!
  return callback.searchParams.get('code')!
}

async function redeem (code: string, signer?: DPoPKey) {
  const dpop = signer ? await proof(signer, { htu: TOKEN }) : undefined
  return postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier }, { authorization: web.basic, ...(dpop ? { dpop } : {}) })
}

t.test('a DPoP proof at /par binds the code to its key (§10.1)', async (t) => {
  const pushed = await push(base, await proof(key, { htu: PAR }))
  t.equal(pushed.statusCode, 201, pushed.body)
  const { request_uri: requestUri } = pushed.json()

  const code = await codeFor(requestUri)
  const bare = await redeem(code)
  t.equal(bare.statusCode, 400, 'no proof at the token endpoint')
  t.equal(bare.json().error, 'invalid_grant')
  const wrong = await redeem(code, other)
  t.equal(wrong.statusCode, 400, 'a proof of another key')
  t.equal(wrong.json().error, 'invalid_grant')
  t.match(wrong.json().error_description, /DPoP key/)

  const code2 = await codeFor((await push(base, await proof(key, { htu: PAR }))).json().request_uri)
  const ok = await redeem(code2, key)
  t.equal(ok.statusCode, 200, ok.body)
  t.equal(ok.json().token_type, 'DPoP')
  t.same(decodeJwt(ok.json().access_token).cnf, { jkt: key.jkt })
})

t.test('dpop_jkt among the pushed parameters binds the code too', async (t) => {
  const pushed = await push({ ...base, dpop_jkt: key.jkt })
  t.equal(pushed.statusCode, 201, pushed.body)
  const code = await codeFor(pushed.json().request_uri)
  t.equal((await redeem(code, other)).statusCode, 400, 'another key is refused')
  const code2 = await codeFor((await push({ ...base, dpop_jkt: key.jkt })).json().request_uri)
  t.equal((await redeem(code2, key)).statusCode, 200)
})

t.test('dpop_jkt and a proof together must name the same key', async (t) => {
  const same = await push({ ...base, dpop_jkt: key.jkt }, await proof(key, { htu: PAR }))
  t.equal(same.statusCode, 201, same.body)
  const mismatch = await push({ ...base, dpop_jkt: other.jkt }, await proof(key, { htu: PAR }))
  t.equal(mismatch.statusCode, 400)
  t.equal(mismatch.json().error, 'invalid_dpop_proof')
  t.match(mismatch.json().error_description, /dpop_jkt/)
  t.equal(mismatch.headers['cache-control'], 'no-store')
})

t.test('bad proofs at /par are refused and nothing is stored', async (t) => {
  const before = await app.prisma.pushedAuthorizationRequest.count()
  const replayed = await proof(key, { htu: PAR })
  t.equal((await push(base, replayed)).statusCode, 201)
  const cases: Array<[string, string]> = [
    ['the token endpoint\'s htu', await proof(key, { htu: TOKEN })],
    ['wrong htm', await proof(key, { htu: PAR, htm: 'GET' })],
    ['a replayed proof', replayed],
    ['not a JWS', 'not-a-proof'],
  ]
  for (const [name, dpop] of cases) {
    const res = await push(base, dpop)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().error, 'invalid_dpop_proof', name)
    t.equal(res.headers['cache-control'], 'no-store', name)
  }
  t.equal(await app.prisma.pushedAuthorizationRequest.count(), before + 1, 'only the valid push was stored')
})
