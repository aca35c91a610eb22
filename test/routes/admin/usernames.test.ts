/**
 * Issue 11 item 11: usernames are unique and looked up by their RFC 8265 UsernameCaseMapped form
 * ('Alice', 'alice' and NFD forms are one user); zero-width and bidi controls refused; passwords
 * NFC-normalized, so a composed é and a decomposed one are the same password.
 */
import t from 'tap'
import { build, createAdmin, createClient, postForm } from '../../helper.js'

t.test('usernames and passwords are compared in normalized form', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
  const admin = await createAdmin(app)
  const pw = await createClient(app, { firstParty: true, grantTypes: ['password'], scopes: ['read'] })
  const create = (payload: object) => app.inject({ method: 'POST', url: '/admin/users', headers: { authorization: admin.authorization }, payload })
  const signIn = (username: string, password: string) => postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: pw.basic })

  const alice = await create({ username: 'Alice', password: 'caf\u00e9 au lait 42' })
  t.equal(alice.statusCode, 201)
  t.equal(alice.json().username, 'Alice', 'shown as registered')
  t.equal((await create({ username: 'alice', password: 'another long one 1' })).statusCode, 409, 'case-folded duplicate')
  t.equal((await create({ username: 'ＡＬＩＣＥ', password: 'another long one 1' })).statusCode, 409, 'fullwidth duplicate')

  t.equal((await create({ username: 'Jos\u00e9', password: 'another long one 1' })).statusCode, 201)
  const nfd = await create({ username: 'Jose\u0301', password: 'another long one 1' })
  t.equal(nfd.statusCode, 409, 'the NFD form of an existing name')

  for (const username of ['ali\u200bce', '\u202eecila', 'al\u200dice', 'a\u2066b']) {
    const res = await create({ username, password: 'another long one 1' })
    t.equal(res.statusCode, 400, JSON.stringify(username))
    t.equal(res.json().error, 'invalid_request')
  }

  t.equal((await signIn('alice', 'caf\u00e9 au lait 42')).statusCode, 200, 'sign-in by any case')
  t.equal((await signIn('ALICE', 'cafe\u0301 au lait 42')).statusCode, 200, 'a decomposed é is the same password')
  t.equal((await signIn('jose\u0301', 'another long one 1')).statusCode, 200, 'NFD username finds the NFC user')
  t.equal((await signIn('alice', 'cafe au lait 42')).statusCode, 400, 'a different password is still wrong')
})
