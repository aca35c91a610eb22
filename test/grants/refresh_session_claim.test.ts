/**
 * A refresh token issued in a browser session names it (`sid`), and so does every successor: the
 * refresh grant reads from the claim whether the session must be checked (the statement tried
 * first checks a session only for a token that names one). A token from before the claim, whose
 * row has a session, still has that session checked, and its successor names it.
 *
 * @module
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { decodeJwt } from 'jose'
import { build, createClient, createUser, refreshGrant as refresh } from '../helper.js'
import { issueTokenPair } from '../../src/grants/issue_pair.js'

t.test('sid in refresh tokens', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['authorization_code', 'refresh_token'], scopes: ['read'] })
  const { user } = await createUser(app, undefined, undefined, ['read'])
  const session = async () => {
    const id = `sid-${randomUUID()}`
    await app.prisma.session.create({ data: { id, tokenHash: id, userId: user.id, authTime: new Date(), expiresAt: new Date(Date.now() + 3600_000) } })
    return id
  }

  t.test('issued in a session: the token and its successors name it; once the session ends the token is refused', async (t) => {
    const sessionId = await session()
    const first = await issueTokenPair({ client: client.client, sub: user.id, userId: user.id, scope: 'read', audience: client.client.audiences, refresh: true, sessionId }, app.grantServices)
    t.equal(decodeJwt(first.refresh_token!).sid, sessionId)
    const second = await refresh(app, client, first.refresh_token!)
    t.equal(second.statusCode, 200)
    t.equal(decodeJwt(second.json().refresh_token).sid, sessionId, 'the successor names the session')
    t.equal(decodeJwt(second.json().access_token).sid, sessionId)
    // Ended behind the session store's back: the claim makes the statement read the session.
    await app.prisma.session.update({ where: { id: sessionId }, data: { endedAt: new Date() } })
    const third = await refresh(app, client, second.json().refresh_token)
    t.equal(third.statusCode, 400)
    t.equal(third.json().error_description, 'the session this refresh token was issued in has ended')
  })

  t.test('without a session: no sid', async (t) => {
    const first = await issueTokenPair({ client: client.client, sub: user.id, userId: user.id, scope: 'read', audience: client.client.audiences, refresh: true }, app.grantServices)
    t.equal(decodeJwt(first.refresh_token!).sid, undefined)
    const second = await refresh(app, client, first.refresh_token!)
    t.equal(second.statusCode, 200)
    t.equal(decodeJwt(second.json().refresh_token).sid, undefined)
  })

  t.test('a token from before the claim whose row has a session: checked, and its successor names it', async (t) => {
    const { minter } = app.grantServices
    for (const ended of [false, true]) {
      const sessionId = await session()
      const jti = randomUUID()
      const familyId = randomUUID()
      const exp = Math.floor(Date.now() / 1000) + 3600
      await app.refreshTokens.create({ jti, familyId, userId: user.id, clientId: client.client.id, scope: 'read', audience: client.client.audiences, kid: minter.currentKid, sessionId, expiresAt: new Date(exp * 1000), authTime: null, acr: null, amr: [] })
      const old = await minter.refreshToken({ jti, sub: user.id, clientId: client.client.id, scope: 'read', exp, familyId })
      t.equal(decodeJwt(old).sid, undefined)
      if (ended) await app.prisma.session.update({ where: { id: sessionId }, data: { endedAt: new Date() } })
      const res = await refresh(app, client, old)
      if (ended) {
        t.equal(res.statusCode, 400, 'an ended session is refused without the claim too')
        t.equal(res.json().error_description, 'the session this refresh token was issued in has ended')
      } else {
        t.equal(res.statusCode, 200)
        t.equal(decodeJwt(res.json().refresh_token).sid, sessionId, 'signed again, naming the session')
        t.equal(decodeJwt(res.json().access_token).sid, sessionId)
      }
    }
  })
})
