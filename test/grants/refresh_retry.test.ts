/**
 * Crash-safe refresh (issue 11 item 18), deterministically: a client that never saw the answer to
 * a committed refresh and presents the same token again within REFRESH_RETRY_SECONDS gets that
 * token's successor again (the same string: RS256 is deterministic and the successor's claims are
 * fixed by the consumed row). A family never has two live tokens, and a retry is never reported
 * as reuse; once the successor has been used, the old token is real reuse.
 *
 * @module
 */
import t from 'tap'
import { decodeJwt } from 'jose'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createUser, passwordGrant as login, refreshGrant as refresh } from '../helper.js'

const claims = decodeJwt

async function family (app: FastifyInstance, token: string) {
  const familyId = (await app.refreshTokens.find(claims(token).jti as string))!.familyId
  const rows = await app.prisma.refreshToken.findMany({ where: { familyId } })
  const now = new Date()
  return {
    familyId,
    rows: rows.length,
    live: rows.filter((r) => !r.consumedAt && !r.revokedAt && r.expiresAt > now).length,
    revoked: rows.filter((r) => r.revokedAt).length,
  }
}

const reuseEvents = (app: FastifyInstance) => app.prisma.auditEvent.count({ where: { type: 'refresh_token_reuse' } })

t.test('a retry of a committed refresh gets the same successor again', async (t) => {
  const app = await build(t)
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const other = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])

  t.test('the lost answer is given again, byte for byte; nothing forks, nothing is revoked', async (t) => {
    const first = await login(app, client, username, password)
    const lost = await refresh(app, client, first.refresh_token) // committed; the client never saw it
    t.equal(lost.statusCode, 200)
    const retry = await refresh(app, client, first.refresh_token)
    t.equal(retry.statusCode, 200, retry.body)
    t.equal(retry.json().refresh_token, lost.json().refresh_token, 'the same refresh token string')
    t.equal(retry.json().scope, 'read')
    t.match(await family(app, first.refresh_token), { rows: 2, live: 1, revoked: 0 })
    t.equal(await reuseEvents(app), 0, 'no reuse reported')
    // The successor works, exactly once.
    const next = await refresh(app, client, retry.json().refresh_token)
    t.equal(next.statusCode, 200)
    t.match(await family(app, first.refresh_token), { rows: 3, live: 1, revoked: 0 })
  })

  t.test('once the successor was used, the old token is real reuse', async (t) => {
    const first = await login(app, client, username, password)
    const second = (await refresh(app, client, first.refresh_token)).json()
    const third = await refresh(app, client, second.refresh_token)
    t.equal(third.statusCode, 200)
    const before = await reuseEvents(app)
    const replay = await refresh(app, client, first.refresh_token)
    t.equal(replay.statusCode, 400)
    t.equal(replay.json().error, 'invalid_grant')
    t.equal(await reuseEvents(app), before + 1)
    t.match(await family(app, first.refresh_token), { live: 0 })
    t.equal((await refresh(app, client, third.json().refresh_token)).json().error, 'invalid_grant', 'the family is revoked')
  })

  t.test('another client presenting the consumed token gets nothing and revokes nothing', async (t) => {
    const first = await login(app, client, username, password)
    const second = (await refresh(app, client, first.refresh_token)).json()
    const res = await refresh(app, other, first.refresh_token)
    t.equal(res.json().error, 'invalid_grant')
    t.match(await family(app, first.refresh_token), { live: 1, revoked: 0 })
    t.equal((await refresh(app, client, second.refresh_token)).statusCode, 200)
  })

  t.test('after the retry window a second presentation is reuse', async (t) => {
    const first = await login(app, client, username, password)
    await refresh(app, client, first.refresh_token)
    const jti = claims(first.refresh_token).jti as string
    // Consumed 11 s ago (the default window is 10 s).
    await app.prisma.refreshToken.update({ where: { jti }, data: { consumedAt: new Date(Date.now() - 11_000) } })
    const before = await reuseEvents(app)
    const late = await refresh(app, client, first.refresh_token)
    t.equal(late.json().error, 'invalid_grant')
    t.equal(await reuseEvents(app), before + 1)
    t.match(await family(app, first.refresh_token), { live: 0 })
  })

  t.test('20 concurrent presentations of one token: all get the one successor', async (t) => {
    const first = await login(app, client, username, password)
    const results = await Promise.all(Array.from({ length: 20 }, () => refresh(app, client, first.refresh_token)))
    t.same(results.map((r) => r.statusCode), results.map(() => 200))
    t.equal(new Set(results.map((r) => r.json().refresh_token)).size, 1, 'one successor')
    t.match(await family(app, first.refresh_token), { rows: 2, live: 1, revoked: 0 })
  })

  t.test('a key rotation between the refresh and its retry still returns the successor', async (t) => {
    const first = await login(app, client, username, password)
    const lost = (await refresh(app, client, first.refresh_token)).json()
    await app.keyring.rotate({ force: true })
    const retry = await refresh(app, client, first.refresh_token)
    t.equal(retry.statusCode, 200)
    t.equal(claims(retry.json().refresh_token).jti, claims(lost.refresh_token).jti, 'the same successor (same row)')
    t.equal(claims(retry.json().refresh_token).exp, claims(lost.refresh_token).exp)
    t.match(await family(app, first.refresh_token), { rows: 2, live: 1 })
    t.equal((await refresh(app, client, retry.json().refresh_token)).statusCode, 200)
  })
})

t.test('REFRESH_RETRY_SECONDS=0: every second presentation is reuse (strict RFC 9700 §4.14.2)', async (t) => {
  const app = await build(t, { env: { REFRESH_RETRY_SECONDS: '0' } })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const first = await login(app, client, username, password)
  const second = (await refresh(app, client, first.refresh_token)).json()
  t.equal((await refresh(app, client, first.refresh_token)).json().error, 'invalid_grant')
  t.equal((await refresh(app, client, second.refresh_token)).json().error, 'invalid_grant')
  t.equal(await reuseEvents(app), 1)
})
