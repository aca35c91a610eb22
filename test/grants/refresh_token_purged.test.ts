/**
 * Reuse detection after retention purged a consumed token's row (RFC 9700 §4.14.2): the token
 * is refused, and when its family still has a live token, the family is revoked.
 *
 * @module
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import { build, createClient, createUser, createTestDatabase, postForm, testConfig, refreshGrant as refresh } from '../helper.js'

const claimsOf = decodeJwt

t.test('a presented refresh token whose row is gone', async (t) => {
  const url = await createTestDatabase(t)
  const config = testConfig(url)
  config.policy = { ...config.policy, purge: { ...config.policy.purge, margin: 0 } }
  const app = await build(t, { databaseUrl: url, config })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const login = async () => {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'read' }, { authorization: client.basic })
    return res.json().refresh_token as string
  }
  const next = async (token: string) => {
    const res = await refresh(app, client, token)
    t.equal(res.statusCode, 200)
    return res.json().refresh_token as string
  }

  t.test('deleted row of a live family: refused, and the family is revoked', async (t) => {
    const first = await login()
    const second = await next(first)
    const third = await next(second)
    await app.prisma.refreshToken.delete({ where: { jti: claimsOf(second).jti as string } })
    const replay = await refresh(app, client, second)
    t.equal(replay.statusCode, 400)
    t.equal(replay.json().error, 'invalid_grant')
    t.equal(replay.headers['cache-control'], 'no-store')
    const live = await refresh(app, client, third)
    t.equal(live.json().error, 'invalid_grant', 'the live successor was revoked with its family')
    const [event] = await app.auditStore.list({ limit: 1, type: 'refresh_token_reuse' })
    t.equal(event?.subject, (await app.refreshTokens.find(claimsOf(third).jti as string))?.familyId, 'audited as reuse of that family')
  })

  t.test('purged by a purge pass: the same', async (t) => {
    const first = await login()
    const second = await next(first)
    const third = await next(second)
    const report = await app.retention.runOnce()
    t.ok(report && report.removed.refresh_tokens >= 1, 'the purge removed consumed tokens')
    t.equal(await app.refreshTokens.find(claimsOf(second).jti as string), null, 'the consumed token is gone')
    t.ok(await app.refreshTokens.find(claimsOf(third).jti as string), 'the live token stays')
    t.equal((await refresh(app, client, second)).json().error, 'invalid_grant')
    t.equal((await refresh(app, client, third)).json().error, 'invalid_grant', 'family revoked')
  })

  t.test('a dead family (revoked, then purged): refused, nothing else happens', async (t) => {
    const first = await login()
    const second = await next(first)
    const familyId = (await app.refreshTokens.find(claimsOf(second).jti as string))!.familyId
    await app.refreshTokens.revokeFamily(familyId, new Date())
    await app.retention.runOnce()
    t.equal(await app.prisma.refreshToken.count({ where: { familyId } }), 0, 'every row of the revoked family is gone')
    const before = (await app.auditStore.list({ limit: 100, type: 'refresh_token_reuse' })).length
    t.equal((await refresh(app, client, second)).json().error, 'invalid_grant')
    t.equal((await app.auditStore.list({ limit: 100, type: 'refresh_token_reuse' })).length, before, 'no reuse event for a family that had nothing left to revoke')
  })

  t.test('the family is named in the refresh token', async (t) => {
    const first = await login()
    const second = await next(first)
    const row = await app.refreshTokens.find(claimsOf(second).jti as string)
    t.equal(claimsOf(first).fid, row!.familyId)
    t.equal(claimsOf(second).fid, row!.familyId)
  })
})
