/**
 * A completed sign-in's one transaction on a real database (storage/prisma/sign_ins.ts): the
 * factor use, the request, the session, the code and the audit events commit together or not at
 * all. A refused factor, a request completed meanwhile and an error half-way each leave nothing:
 * no session, no code, no event, and the TOTP step or recovery code still unused. The same step
 * submitted twice at once is accepted exactly once.
 *
 * @module
 */
import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { createTestDatabase, testPool } from '../../helper.js'
import { prismaSignInStore } from '../../../src/storage/prisma/sign_ins.js'
import type { NewAuthorizationCode, SignInCompletion } from '../../../src/storage/types.js'

const url = await createTestDatabase(t)
const pool = testPool(url, 4)
t.teardown(() => pool.end())
const store = prismaSignInStore(pool)

async function user (): Promise<string> {
  const id = randomUUID()
  await pool.query("INSERT INTO users (id, username, password_hash, scopes, updated_at) VALUES ($1, $2, 'x', $3, now())", [id, `u-${id.slice(0, 8)}`, []])
  await pool.query('INSERT INTO totp_factors (user_id, secret_enc, kek_id, confirmed_at, last_used_step) VALUES ($1, $2, $3, now(), 10)', [id, 'sealed', 'k'])
  await pool.query('INSERT INTO recovery_codes (code_hash, user_id) VALUES ($1, $2), ($3, $2)', [`rc-${id}`, id, `rc2-${id}`])
  return id
}

async function parked (browserHash = randomBytes(8).toString('hex')): Promise<{ id: string, browserHash: string }> {
  const id = randomBytes(16).toString('base64url')
  await pool.query(`INSERT INTO authorization_requests (id, browser_hash, client_id, redirect_uri, scope, expires_at)
    VALUES ($1, $2, 'app', 'https://app.example/cb', 'openid', now() + interval '10 minutes')`, [id, browserHash])
  return { id, browserHash }
}

function code (userId: string, sessionId: string, codeHash = randomBytes(16).toString('hex')): NewAuthorizationCode {
  return {
    codeHash, clientId: 'app', userId, sessionId, redirectUri: 'https://app.example/cb', redirectUriSent: true, scope: 'openid', nonce: null,
    codeChallenge: null, codeChallengeMethod: null, dpopJkt: null, authTime: new Date(), amr: ['pwd', 'otp', 'mfa'], acr: 'mfa', familyId: randomUUID(),
    expiresAt: new Date(Date.now() + 60_000),
  }
}

function completion (userId: string, request: { id: string, browserHash: string }, overrides: Partial<SignInCompletion> = {}): SignInCompletion & { sessionId: string } {
  const sessionId = randomBytes(16).toString('base64url')
  return {
    sessionId,
    factor: { kind: 'totp', userId, step: 11 },
    session: { create: { id: sessionId, tokenHash: randomBytes(16).toString('hex'), userId, authTime: new Date(), amr: ['pwd', 'otp', 'mfa'], acr: 'mfa', expiresAt: new Date(Date.now() + 3_600_000) } },
    rebind: { browserHash: request.browserHash, newBrowserHash: randomBytes(8).toString('hex') },
    request: { id: request.id, then: 'taken', code: code(userId, sessionId) },
    events: () => [{ type: 'login_succeeded', actor: userId, subject: userId, clientId: 'app', ip: '127.0.0.1', detail: { via: 'second_factor', method: 'totp' } }],
    ...overrides,
  }
}

const count = async (sql: string, values: unknown[]) => Number((await pool.query(sql, values)).rows[0].n)
const state = async (userId: string) => ({
  step: Number((await pool.query('SELECT last_used_step FROM totp_factors WHERE user_id = $1', [userId])).rows[0].last_used_step),
  sessions: await count('SELECT count(*) AS n FROM sessions WHERE user_id = $1', [userId]),
  codes: await count('SELECT count(*) AS n FROM authorization_codes WHERE user_id = $1', [userId]),
  events: await count('SELECT count(*) AS n FROM audit_events WHERE subject = $1', [userId]),
  unusedRecoveryCodes: await count('SELECT count(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL', [userId]),
})

t.test('a completed sign-in: step, request, session (with its client), code and events in one commit', async (t) => {
  const userId = await user()
  const request = await parked()
  const c = completion(userId, request)
  const done = await store.complete(c)
  t.equal(done.ok, true)
  t.same(await state(userId), { step: 11, sessions: 1, codes: 1, events: 1, unusedRecoveryCodes: 2 })
  t.equal(await count('SELECT count(*) AS n FROM authorization_requests WHERE id = $1', [request.id]), 0, 'the request is taken')
  t.same((await pool.query('SELECT client_ids FROM sessions WHERE id = $1', [c.sessionId])).rows[0].client_ids, ['app'], "the code's client is a participant")
  const event = (await pool.query('SELECT type, actor, client_id, ip, detail FROM audit_events WHERE subject = $1', [userId])).rows[0]
  t.same(event, { type: 'login_succeeded', actor: userId, client_id: 'app', ip: '127.0.0.1', detail: { via: 'second_factor', method: 'totp' } })
})

t.test('refused or failed half-way: nothing is written and the code is not burned', async (t) => {
  const userId = await user()

  const replay = await store.complete(completion(userId, await parked(), { factor: { kind: 'totp', userId, step: 10 } }))
  t.same(replay, { ok: false, reason: 'factor_refused' }, 'a step already used is refused')
  t.same(await state(userId), { step: 10, sessions: 0, codes: 0, events: 0, unusedRecoveryCodes: 2 })

  const gone = await store.complete(completion(userId, { id: 'no-such-request', browserHash: 'x' }))
  t.same(gone, { ok: false, reason: 'request_gone' }, 'a request completed meanwhile')
  t.same(await state(userId), { step: 10, sessions: 0, codes: 0, events: 0, unusedRecoveryCodes: 2 }, 'the step was not consumed')

  // An error after the session was written (the code's hash collides): everything rolls back.
  const taken = await parked()
  const existing = completion(userId, await parked(), { factor: undefined, events: () => [] })
  t.equal((await store.complete(existing)).ok, true)
  const existingCode = existing.request.then === 'taken' ? existing.request.code!.codeHash : ''
  const sessionsBefore = (await state(userId)).sessions
  const c = completion(userId, taken)
  if (c.request.then === 'taken') c.request.code!.codeHash = existingCode
  await t.rejects(store.complete(c), /duplicate key/)
  t.same(await state(userId), { step: 10, sessions: sessionsBefore, codes: 1, events: 0, unusedRecoveryCodes: 2 }, 'no session, no event, the step unused')
  t.equal(await count('SELECT count(*) AS n FROM authorization_requests WHERE id = $1', [taken.id]), 1, 'the request is still there: the user can retry')
  t.equal((await store.complete(completion(userId, taken))).ok, true, 'and the same code then signs in')

  const recovery = await store.complete(completion(userId, { id: 'gone-again', browserHash: 'x' }, { factor: { kind: 'recovery', userId, codeHash: `rc-${userId}`, now: new Date() } }))
  t.same(recovery, { ok: false, reason: 'request_gone' })
  t.equal((await state(userId)).unusedRecoveryCodes, 2, 'a recovery code is not burned by a failed sign-in either')
  const left: Array<number | undefined> = []
  const used = await store.complete(completion(userId, await parked(), {
    factor: { kind: 'recovery', userId, codeHash: `rc-${userId}`, now: new Date() },
    events: ({ recoveryCodesLeft }) => { left.push(recoveryCodesLeft); return [] },
  }))
  t.equal(used.ok, true)
  t.same(left, [1], 'the events see the recovery codes left after this one')
  t.same((await store.complete(completion(userId, await parked(), { factor: { kind: 'recovery', userId, codeHash: `rc-${userId}`, now: new Date() } }))), { ok: false, reason: 'factor_refused' }, 'a recovery code works once')
})

t.test('the same step submitted twice at once (two requests, two connections): exactly one sign-in', async (t) => {
  for (let round = 0; round < 5; round++) {
    const userId = await user()
    const outcomes = await Promise.all([store.complete(completion(userId, await parked())), store.complete(completion(userId, await parked()))])
    t.same(outcomes.map((o) => o.ok).sort(), [false, true], `round ${round}: one wins`)
    t.same(outcomes.find((o) => !o.ok), { ok: false, reason: 'factor_refused' })
    t.same(await state(userId), { step: 11, sessions: 1, codes: 1, events: 1, unusedRecoveryCodes: 2 })
  }
})

t.test('the same request submitted twice at once with two different good steps: completed once', async (t) => {
  const userId = await user()
  const request = await parked()
  const outcomes = await Promise.all([
    store.complete(completion(userId, request, { factor: { kind: 'totp', userId, step: 11 } })),
    store.complete(completion(userId, request, { factor: { kind: 'totp', userId, step: 12 } })),
  ])
  t.same(outcomes.map((o) => o.ok).sort(), [false, true])
  t.equal((await state(userId)).sessions, 1, 'one session')
})

t.test('the TOTP step and the request in one statement: consent still to come (the request marked), and the same form twice at once', async (t) => {
  const userId = await user()
  const seen: string[] = []
  const spied = prismaSignInStore({
    connect: async () => {
      const client = await pool.connect()
      const query = client.query.bind(client)
      return Object.assign(client, { query: (q: string | { text: string }, ...rest: unknown[]) => { seen.push(typeof q === 'string' ? q : q.text); return (query as (...a: unknown[]) => unknown)(q, ...rest) } })
    },
  } as never)

  // Consent follows: the request is marked with the session, only when the step was used.
  const marked = await parked()
  const refused = completion(userId, marked, { factor: { kind: 'totp', userId, step: 10 }, request: { id: marked.id, then: 'authenticated' } })
  t.same(await spied.complete(refused), { ok: false, reason: 'factor_refused' }, 'a used step: refused')
  t.equal((await pool.query('SELECT session_id FROM authorization_requests WHERE id = $1', [marked.id])).rows[0].session_id, null, 'and the request is not marked')
  const c = completion(userId, marked, { request: { id: marked.id, then: 'authenticated' } })
  t.equal((await spied.complete(c)).ok, true)
  t.equal((await pool.query('SELECT session_id FROM authorization_requests WHERE id = $1', [marked.id])).rows[0].session_id, c.sessionId, 'marked with the new session')
  t.same(await state(userId), { step: 11, sessions: 1, codes: 0, events: 1, unusedRecoveryCodes: 2 })
  t.notOk(seen.some((text) => /^DELETE FROM authorization_requests|^UPDATE authorization_requests SET session_id|^UPDATE totp_factors/.test(text)), 'no separate step or request statement')
  t.ok(seen.some((text) => /WITH step AS \(\s*UPDATE totp_factors/.test(text)), 'one statement for both')

  // The same form (same request, same step) submitted twice at once: one sign-in, the other refused.
  for (let round = 0; round < 5; round++) {
    const request = await parked()
    const step = 20 + round
    const outcomes = await Promise.all([0, 1].map(() => spied.complete(completion(userId, request, { factor: { kind: 'totp', userId, step } }))))
    t.same(outcomes.map((o) => o.ok).sort(), [false, true], `round ${round}: one wins`)
    t.same(outcomes.find((o) => !o.ok), { ok: false, reason: 'factor_refused' }, 'the other finds the step used')
    t.equal(await count('SELECT count(*) AS n FROM authorization_requests WHERE id = $1', [request.id]), 0, 'the request is taken')
  }
  t.same(await state(userId), { step: 24, sessions: 6, codes: 5, events: 6, unusedRecoveryCodes: 2 })
})
