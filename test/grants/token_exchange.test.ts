/**
 * RFC 8693 token exchange: a gateway exchanges a user's access token for one to call a
 * downstream API, within its audience allow-list, never widening the scope; subject and actor
 * tokens are verified fully; `act` records (nested) actors; every exchange is audited.
 */
import t from 'tap'
import { SignJWT, decodeJwt, generateKeyPair } from 'jose'
import { build, createClient, createUser, passwordGrant, postForm } from '../helper.js'

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const AT = 'urn:ietf:params:oauth:token-type:access_token'
const ORDERS = 'https://orders.example.com'
const BILLING = 'https://billing.example.com'

t.test('token exchange', async (t) => {
  const app = await build(t)
  const { user, username, password } = await createUser(app, 'erin', 'correct horse battery staple', ['read', 'write'])
  const webapp = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read', 'write'], audiences: ['https://gateway.example.com'] })
  const gateway = await createClient(app, { name: 'gateway', grantTypes: [GRANT], scopes: ['read'], audiences: [], exchangeAudiences: [ORDERS, BILLING] })
  const subject = await passwordGrant(app, webapp, username, password, 'read write')
  const exchange = (form: Record<string, string>, client = gateway) =>
    postForm(app, '/token', { grant_type: GRANT, subject_token: subject.access_token, subject_token_type: AT, ...form }, { authorization: client.basic })

  t.test('exchanges for an allowed audience, narrowing the scope', async (t) => {
    const res = await exchange({ audience: ORDERS })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.equal(body.issued_token_type, AT)
    t.equal(body.token_type, 'Bearer')
    t.equal(body.scope, 'read', 'only what the subject token and the gateway both have')
    t.notOk(body.refresh_token, 'no refresh token (documented choice)')
    t.equal(res.headers['cache-control'], 'no-store')
    const claims = decodeJwt(body.access_token)
    const original = decodeJwt(subject.access_token)
    t.equal(claims.sub, user.id)
    t.equal(claims.client_id, gateway.client.id)
    t.equal(claims.aud, ORDERS)
    t.notOk(claims.act, 'no actor token, no act')
    t.ok(claims.exp! <= original.exp!, 'never outlives the subject token')
    t.ok(body.expires_in > 0 && body.expires_in <= 300)
    const [event] = await app.auditStore.list({ limit: 5, type: 'token_exchanged' })
    t.equal(event.subject, user.id)
    t.equal(event.clientId, gateway.client.id)
    t.same((event.detail as { audience: string[] }).audience, [ORDERS])
    t.equal((event.detail as { scope: string }).scope, 'read')
    t.equal((event.detail as { subject_client_id: string }).subject_client_id, webapp.client.id)

    const byResource = await exchange({ resource: BILLING, scope: 'read' })
    t.equal(byResource.statusCode, 200)
    t.equal(decodeJwt(byResource.json().access_token).aud, BILLING)
    const all = await exchange({})
    t.same(decodeJwt(all.json().access_token).aud, [ORDERS, BILLING], 'no target: the whole allow-list')
  })

  t.test('refusals', async (t) => {
    const target = await exchange({ audience: 'https://evil.example.com' })
    t.equal(target.statusCode, 400)
    t.equal(target.json().error, 'invalid_target')
    t.equal((await exchange({ resource: 'https://evil.example.com' })).json().error, 'invalid_target')
    const refused = await app.auditStore.list({ limit: 5, type: 'token_exchange_refused' })
    t.equal(refused.length, 2, 'refusals are audited')
    t.equal((await exchange({ audience: ORDERS, scope: 'read write' })).json().error, 'invalid_scope', 'write: not the gateway\'s')
    t.equal((await exchange({ audience: ORDERS, scope: 'admin' })).json().error, 'invalid_scope', 'never wider than the subject token')

    const plain = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] })
    t.equal((await exchange({ audience: ORDERS }, plain)).json().error, 'unauthorized_client', 'a client without the grant')
    const noList = await createClient(app, { grantTypes: [GRANT], scopes: ['read'], exchangeAudiences: [] })
    t.equal((await exchange({ audience: ORDERS }, noList)).json().error, 'unauthorized_client', 'a client with an empty allow-list')

    t.equal((await exchange({ audience: ORDERS, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' })).json().error, 'invalid_request')
    t.equal((await exchange({ audience: ORDERS, subject_token: subject.refresh_token })).json().error, 'invalid_request', 'a refresh token is not an access token')
    t.equal((await exchange({ audience: ORDERS, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })).json().error, 'invalid_request')
    t.equal((await exchange({ audience: ORDERS, actor_token: subject.access_token })).json().error, 'invalid_request', 'actor_token without its type')

    const { privateKey } = await generateKeyPair('RS256')
    const forged = await new SignJWT({ client_id: webapp.client.id, scope: 'read' })
      .setProtectedHeader({ alg: 'RS256', kid: app.minter.currentKid, typ: 'at+jwt' })
      .setIssuer('http://stamp.test').setSubject(user.id).setAudience(ORDERS).setIssuedAt().setExpirationTime('5m').sign(privateKey)
    const forgedRes = await exchange({ audience: ORDERS, subject_token: forged })
    t.equal(forgedRes.json().error, 'invalid_request', 'a token not signed by Stamp')
    const expired = await app.minter.accessToken({ sub: user.id, clientId: webapp.client.id, scope: 'read', audience: [ORDERS] }, Date.now() - 3600_000)
    t.equal((await exchange({ audience: ORDERS, subject_token: expired })).json().error, 'invalid_request', 'an expired subject token')
    const endedSession = await app.minter.accessToken({ sub: user.id, clientId: webapp.client.id, scope: 'read', audience: [ORDERS], sid: 'no-such-session' })
    t.equal((await exchange({ audience: ORDERS, subject_token: endedSession })).json().error, 'invalid_request', 'a token of an ended session')

    const bob = await createUser(app, 'bob', 'correct horse battery staple', ['read'])
    const bobs = await passwordGrant(app, webapp, bob.username, bob.password, 'read')
    await app.usersRepository.update(bob.user.id, { disabled: true })
    t.equal((await exchange({ audience: ORDERS, subject_token: bobs.access_token })).json().error, 'invalid_request', 'a disabled user\'s token')
  })

  t.test('actor tokens produce act, nested along the chain', async (t) => {
    const agent = await createClient(app, { name: 'agent', grantTypes: ['client_credentials'], scopes: ['read'] })
    const agentToken = (await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: agent.basic })).json().access_token
    const first = await exchange({ audience: ORDERS, actor_token: agentToken, actor_token_type: AT })
    t.equal(first.statusCode, 200, first.body)
    const claims = decodeJwt(first.json().access_token)
    t.same(claims.act, { sub: agent.client.id, client_id: agent.client.id })
    t.equal(claims.sub, user.id, 'still the user\'s token')

    // The orders service exchanges onwards, acting itself: the earlier actor nests inside.
    const orders = await createClient(app, { name: 'orders', grantTypes: [GRANT, 'client_credentials'], scopes: ['read'], exchangeAudiences: [BILLING] })
    const ordersToken = (await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: orders.basic })).json().access_token
    const second = await postForm(app, '/token', {
      grant_type: GRANT, subject_token: first.json().access_token, subject_token_type: AT, actor_token: ordersToken, actor_token_type: AT, audience: BILLING,
    }, { authorization: orders.basic })
    t.equal(second.statusCode, 200, second.body)
    const nested = decodeJwt(second.json().access_token)
    t.same(nested.act, { sub: orders.client.id, client_id: orders.client.id, act: { sub: agent.client.id, client_id: agent.client.id } })
    const [event] = await app.auditStore.list({ limit: 1, type: 'token_exchanged' })
    t.same((event.detail as { act_chain: string[] }).act_chain, [orders.client.id, agent.client.id])

    const forgedActor = agentToken.slice(0, -4) + 'AAAA'
    t.equal((await exchange({ audience: ORDERS, actor_token: forgedActor, actor_token_type: AT })).json().error, 'invalid_request', 'a forged actor token')
  })
})
