/**
 * Steady state: with purging, the rows that many refresh cycles leave behind stay bounded.
 *
 * Tiny lifetimes and a zero margin (set on the policy, below what the environment allows) make
 * every consumed token dead at once and every abandoned family within five seconds; each cycle starts a
 * family, refreshes the recent ones, abandons the older ones and runs one purge pass. Cycles are paced
 * (at least 250 ms each), so at most 20 abandoned families are within their lifetime at any time, and
 * a busy machine (slower cycles) still refreshes each family well within its lifetime.
 *
 * @module
 */
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, createClient, createUser, createTestDatabase, postForm, testConfig } from '../helper.js'

t.test('refresh_tokens and audit_events plateau across many refresh cycles with purges', async (t) => {
  const url = await createTestDatabase(t)
  const config = testConfig(url, { RATE_LIMIT_ENABLED: 'false' })
  config.policy = {
    ...config.policy,
    refreshTokenTTL: 5,
    argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    purge: { ...config.policy.purge, margin: 0, auditRetention: 1 },
  }
  const app = await build(t, { databaseUrl: url, config })
  const client = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const count = async () => ({
    tokens: await app.prisma.refreshToken.count(),
    audit: await app.prisma.auditEvent.count(),
  })

  let active: string[] = []
  let issued = 0
  let failures = 0
  const samples: Array<{ tokens: number, audit: number }> = []
  for (let cycle = 0; cycle < 45; cycle++) {
    const paced = sleep(250)
    const login = await postForm(app, '/token', { grant_type: 'password', username, password, scope: 'read' }, { authorization: client.basic })
    if (login.statusCode !== 200) failures++
    issued++
    // The three newest families keep refreshing; older ones are abandoned and expire.
    active = [login.json().refresh_token, ...active].slice(0, 3)
    for (let i = 0; i < active.length; i++) {
      for (let r = 0; r < 3; r++) {
        const res = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: active[i] }, { authorization: client.basic })
        if (res.statusCode !== 200) failures++
        else active[i] = res.json().refresh_token
        issued++
      }
    }
    await paced // time passes: abandoned families (5 s) and audit events (1 s) age out
    await app.retention.runOnce()
    samples.push(await count())
  }
  t.equal(failures, 0, 'every login and refresh succeeded')
  const last = samples.at(-1)!
  t.ok(issued > 400, `issued ${issued} refresh tokens`)
  // Live: 3 families; dead: tokens of families abandoned within the last TTL (5 s: at most 20 cycles).
  const peakLate = Math.max(...samples.slice(20).map((s) => s.tokens))
  t.ok(peakLate <= 40, `refresh_tokens stays bounded (late peak ${peakLate}, final ${last.tokens}, issued ${issued})`)
  t.ok(Math.max(...samples.slice(20).map((s) => s.audit)) <= 30, `audit_events stays bounded (final ${last.audit})`)
  t.ok(samples[44].tokens <= samples[29].tokens + 10, 'no growth between the second and third third')
})
