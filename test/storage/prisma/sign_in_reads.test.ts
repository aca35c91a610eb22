/**
 * What a sign-in's second step reads and writes on the pg pool (the parked request, its
 * "password passed" mark, the user by id, which factors the user has), on a real database: the
 * same records as through Prisma, and the mark committed without waiting for the WAL flush in its
 * own transaction only, yet visible to the next statement on any connection.
 *
 * @module
 */
import t from 'tap'
import pg from 'pg'
import { randomUUID } from 'node:crypto'
import { spiedStoreDatabase } from '../../helper.js'
import { prismaPendingAuthorizationStore } from '../../../src/storage/prisma/authorization_requests.js'
import { prismaFactorStore } from '../../../src/storage/prisma/factors.js'
import { prismaUserStore } from '../../../src/storage/prisma/users.js'
import { USERNAME_FORMS } from '../../../src/domain/usernames.js'
import { factorSummary } from '../../../src/domain/second_factors.js'

const setUp = (t: Tap.Test) => spiedStoreDatabase(t)

const parkedRow = (id: string) => ({
  id, browserHash: 'b'.repeat(43), clientId: 'app', redirectUri: 'https://app.example/cb', redirectUriSent: true, scope: 'openid read',
  state: 's', nonce: null, codeChallenge: 'c'.repeat(43), codeChallengeMethod: 'S256', prompt: ['login'], maxAge: 60, loginHint: null,
  acrValues: ['urn:a'], factorUserId: null, factorAmr: [], dpopJkt: null, sessionId: null, expiresAt: new Date(Date.now() + 600_000),
})

t.test('the parked request: read on the pool as Prisma reads it; the first-factor mark commits asynchronously', async (t) => {
  const { pool, prisma, spy, seen } = await setUp(t)
  const store = prismaPendingAuthorizationStore(prisma, spy)
  const onPrisma = prismaPendingAuthorizationStore(prisma)
  const userId = randomUUID()
  const id = randomUUID()
  await store.create(parkedRow(id), { keepPerBrowser: 5 })
  const now = new Date()
  t.same(await store.find(id, now), await onPrisma.find(id, now), 'the same record as through Prisma')
  t.ok(seen.some((text) => /FROM authorization_requests/.test(text)), 'the read ran on the pool')
  t.equal(await store.find(id, new Date(Date.now() + 700_000)), null, 'expired: not found')
  t.equal(await store.find(randomUUID(), now), null, 'unknown: not found')

  await store.firstFactor(id, userId, ['pwd'])
  // Read back on another connection: the mark is visible from its commit on.
  const other = new pg.Client({ connectionString: pool.options.connectionString })
  await other.connect()
  t.teardown(() => other.end())
  const row = (await other.query('SELECT factor_user_id, factor_amr FROM authorization_requests WHERE id = $1', [id])).rows[0]
  t.same(row, { factor_user_id: userId, factor_amr: ['pwd'] }, 'the mark is visible to every later statement')
  t.match(await store.find(id, now), { factorUserId: userId, factorAmr: ['pwd'] })

  const mark = seen.find((text) => /UPDATE authorization_requests SET factor_user_id/.test(text))
  t.ok(mark, 'the mark runs on the pg pool')
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(mark!, [id, userId, ['pwd', 'otp'], '[]'])
    t.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'off', 'its commit does not wait for the flush')
    await client.query('ROLLBACK')
    t.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'on', 'the setting ends with the transaction')
  } finally {
    client.release()
  }
  t.equal((await pool.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'on', 'the pool keeps synchronous commits')

  // Without the pool (the CLI), Prisma runs the same statement.
  const second = randomUUID()
  await onPrisma.create(parkedRow(second), { keepPerBrowser: 5 })
  await onPrisma.firstFactor(second, userId, ['hwk'])
  t.match(await onPrisma.find(second, now), { factorUserId: userId, factorAmr: ['hwk'] }, 'the mark through Prisma')
})

t.test('the user by id on the pool: what Prisma reads; not a UUID, no user', async (t) => {
  const { prisma, spy, seen } = await setUp(t)
  const users = prismaUserStore(prisma, spy, USERNAME_FORMS)
  const user = await users.create({ username: 'Alice', passwordHash: 'h', scopes: ['read'], email: 'a@example.com' } as never)
  const viaPrisma = await prisma.user.findUnique({ where: { id: user.id }, select: { id: true, username: true, email: true, passwordHash: true, disabled: true, scopes: true, emailVerifiedAt: true, verificationPending: true, mfaRequired: true } })
  t.same(await users.findById(user.id), viaPrisma, 'the same record')
  t.same(await users.findById(user.id.toUpperCase()), viaPrisma, 'a UUID in upper case names the same user')
  t.ok(seen.some((text) => /FROM users WHERE id =/.test(text)), 'it ran on the pool')
  t.equal(await users.findById(randomUUID()), null, 'unknown')
  t.equal(await users.findById('not-a-uuid'), null, 'not a UUID: none, and no error')
})

t.test('which factors a user has: one statement on the pool, the same answer as the summary and as Prisma', async (t) => {
  const { prisma, spy, seen } = await setUp(t)
  const store = prismaFactorStore(prisma, spy)
  const onPrisma = prismaFactorStore(prisma)
  const users = prismaUserStore(prisma, spy, USERNAME_FORMS)
  const { id: userId } = await users.create({ username: 'bob', passwordHash: 'h', scopes: [] } as never)
  const both = async () => {
    const [pooled, prismaOnly, summary] = await Promise.all([store.factorPresence(userId), onPrisma.factorPresence(userId), factorSummary(onPrisma, userId)])
    t.same(pooled, prismaOnly)
    t.same(pooled, { totp: summary.totp, passkeys: summary.passkeys.length, recoveryCodesLeft: summary.recoveryCodesLeft })
    return pooled
  }
  t.same(await both(), { totp: false, passkeys: 0, recoveryCodesLeft: 0 }, 'nothing yet')
  await store.beginTOTP({ userId, secretEnc: 'sealed', kekId: 'k' })
  t.same(await both(), { totp: false, passkeys: 0, recoveryCodesLeft: 0 }, 'an unconfirmed enrolment is no factor')
  await store.acceptTOTPStep(userId, 5, new Date(), true)
  await store.replaceRecoveryCodes(userId, ['h1', 'h2', 'h3'])
  await store.consumeRecoveryCode(userId, 'h2', new Date())
  await store.addPasskey({ id: 'cred-1', userId, publicKey: new Uint8Array([1, 2]), signCount: 0, backupEligible: false, backupState: false, transports: [], name: 'Key' })
  await store.addPasskey({ id: 'cred-2', userId, publicKey: new Uint8Array([3]), signCount: 0, backupEligible: true, backupState: true, transports: ['internal'], name: 'Phone' })
  t.same(await both(), { totp: true, passkeys: 2, recoveryCodesLeft: 2 }, 'a confirmed app, two passkeys, two unused codes')
  t.same(await store.factorPresence(randomUUID()), { totp: false, passkeys: 0, recoveryCodesLeft: 0 }, 'another user has none')
  t.ok(seen.some((text) => /AS "recoveryCodesLeft"/.test(text)), 'it ran on the pool')
})

t.test('the second step\'s one read: the request, its user and their factors, the same records as the separate reads', async (t) => {
  const { prisma, spy, seen } = await setUp(t)
  const pending = prismaPendingAuthorizationStore(prisma, spy)
  const onPrisma = prismaPendingAuthorizationStore(prisma)
  const factors = prismaFactorStore(prisma, spy)
  const users = prismaUserStore(prisma, spy, USERNAME_FORMS)
  const user = await users.create({ username: 'carol', passwordHash: 'h', scopes: ['read'], email: 'c@example.com' } as never)
  const id = randomUUID()
  await pending.create(parkedRow(id), { keepPerBrowser: 5 })
  const now = new Date()

  const separate = async () => {
    const request = await pending.find(id, now)
    return {
      request,
      user: await users.findById(request!.factorUserId!),
      presence: await factors.factorPresence(request!.factorUserId!),
      totp: await factors.findTOTP(request!.factorUserId!),
    }
  }
  const same = async (label: string) => {
    const old = await separate()
    for (const store of [pending, onPrisma]) {
      const via = store === pending ? 'pool' : 'Prisma'
      t.same(await store.findOwingFactor(id, now), { ...old, presence: null, totp: null }, `${label} (${via}): request and user`)
      t.same(await store.findOwingFactor(id, now, 'presence'), { ...old, totp: null }, `${label} (${via}): with the factors present`)
      t.same(await store.findOwingFactor(id, now, 'totp'), { ...old, presence: null }, `${label} (${via}): with the TOTP record`)
    }
  }

  t.equal(await pending.findOwingFactor(id, now, 'presence'), null, 'no first factor recorded: none')
  await pending.firstFactor(id, user.id, ['pwd'])
  await same('no factor yet')
  t.equal((await pending.findOwingFactor(id, now, 'totp'))!.totp, null, 'no TOTP record: null')
  await factors.beginTOTP({ userId: user.id, secretEnc: 'sealed', kekId: 'k' })
  await same('an unconfirmed enrolment')
  await factors.acceptTOTPStep(user.id, 1234567, new Date(), true)
  await factors.replaceRecoveryCodes(user.id, ['h1', 'h2'])
  await factors.addPasskey({ id: 'cred-c', userId: user.id, publicKey: new Uint8Array([1]), signCount: 0, backupEligible: false, backupState: false, transports: [], name: 'Key' })
  await same('a confirmed app, codes, a passkey')
  t.match(await pending.findOwingFactor(id, now, 'totp'), { totp: { userId: user.id, lastUsedStep: 1234567, secretEnc: 'sealed' }, presence: null })
  t.match(await pending.findOwingFactor(id, now, 'presence'), { presence: { totp: true, passkeys: 1, recoveryCodesLeft: 2 }, totp: null })
  t.ok(seen.some((text) => /JOIN users u ON u.id = r.factor_user_id/.test(text)), 'it ran on the pool')

  t.equal(await pending.findOwingFactor(id, new Date(Date.now() + 700_000), 'presence'), null, 'expired: none')
  t.equal(await pending.findOwingFactor(randomUUID(), now, 'totp'), null, 'unknown: none')
  await prisma.user.delete({ where: { id: user.id } })
  t.equal(await pending.findOwingFactor(id, now), null, 'the user is gone: none')
})

t.test("the first-factor mark carries that step's audit events: one statement, one asynchronous commit, both or neither", async (t) => {
  const { pool, prisma, spy, seen } = await setUp(t)
  const store = prismaPendingAuthorizationStore(prisma, spy)
  const onPrisma = prismaPendingAuthorizationStore(prisma)
  const userId = randomUUID()
  const event = { type: 'login_succeeded', actor: userId, subject: userId, clientId: 'app', ip: '127.0.0.1', detail: { via: 'login_form' } }
  const trail = async () => (await pool.query('SELECT type, actor, subject, client_id, ip, detail FROM audit_events WHERE subject = $1 ORDER BY id', [userId])).rows
  const row = { type: 'login_succeeded', actor: userId, subject: userId, client_id: 'app', ip: '127.0.0.1', detail: { via: 'login_form' } }

  const id = randomUUID()
  await store.create(parkedRow(id), { keepPerBrowser: 5 })
  seen.length = 0
  await store.firstFactor(id, userId, ['pwd'], [event])
  t.equal(seen.length, 1, 'one statement')
  t.same(await trail(), [row], 'the event is stored')
  t.match(await store.find(id, new Date()), { factorUserId: userId, factorAmr: ['pwd'] }, 'with the mark')

  // Both in the one asynchronous transaction: rolled back together.
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(seen[0], [id, randomUUID(), ['hwk'], JSON.stringify([{ type: 'login_succeeded', subject: userId, detail: { via: 'rolled_back' } }])])
    t.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'off', 'its commit does not wait for the flush')
    await client.query('ROLLBACK')
  } finally {
    client.release()
  }
  t.same(await trail(), [row], 'a rolled-back mark leaves no event')
  t.match(await store.find(id, new Date()), { factorUserId: userId, factorAmr: ['pwd'] }, 'and no mark')

  const second = randomUUID()
  await onPrisma.create(parkedRow(second), { keepPerBrowser: 5 })
  await onPrisma.firstFactor(second, userId, ['pwd'], [{ ...event, detail: null }])
  t.same((await trail()).map((r) => r.detail), [{ via: 'login_form' }, null], 'through Prisma too (no detail: NULL)')
  await store.firstFactor(second, userId, ['pwd'])
  t.equal((await trail()).length, 2, 'no events: none written')
})

t.test('after a password, one statement reads the factors and marks the request only when a step is owed for them', async (t) => {
  const { pool, prisma, spy, seen } = await setUp(t)
  const pending = prismaPendingAuthorizationStore(prisma, spy)
  const onPrisma = prismaPendingAuthorizationStore(prisma)
  const factors = prismaFactorStore(prisma, spy)
  const users = prismaUserStore(prisma, spy, USERNAME_FORMS)
  const user = await users.create({ username: 'dave', passwordHash: 'h', scopes: ['read'], email: 'd@example.com' } as never)
  const event = { type: 'login_succeeded', actor: user.id, subject: user.id, clientId: 'app', ip: '127.0.0.1', detail: { via: 'login_form' } }
  const trail = async () => (await pool.query('SELECT detail FROM audit_events WHERE subject = $1 ORDER BY id', [user.id])).rows.map((r) => r.detail)
  const mark = async (id: string) => (await pool.query('SELECT factor_user_id, factor_amr FROM authorization_requests WHERE id = $1', [id])).rows[0]
  const optional = { withFactor: true, withoutFactor: false }
  const required = { withFactor: true, withoutFactor: true }
  const none = { totp: false, passkeys: 0, recoveryCodesLeft: 0 }

  for (const store of [pending, onPrisma]) {
    const via = store === pending ? 'pool' : 'Prisma'
    const id = randomUUID()
    await store.create(parkedRow(id), { keepPerBrowser: 5 })
    seen.length = 0
    t.same(await store.firstFactorIfOwed(id, user.id, ['pwd'], [event], optional), { presence: none, marked: false }, `${via}: no factor, MFA optional: nothing owed`)
    if (store === pending) t.equal(seen.length, 1, 'one statement on the pool')
    t.same(await mark(id), { factor_user_id: null, factor_amr: [] }, `${via}: no mark`)
    t.same(await trail(), [], `${via}: and no event (the sign-in's transaction writes it)`)
    t.same(await store.firstFactorIfOwed(id, user.id, ['pwd'], [event], required), { presence: none, marked: true }, `${via}: no factor, MFA required: the enrolment is owed`)
    t.same(await mark(id), { factor_user_id: user.id, factor_amr: ['pwd'] }, `${via}: marked`)
    t.same(await trail(), [{ via: 'login_form' }], `${via}: with its event`)
    await pool.query('DELETE FROM audit_events WHERE subject = $1', [user.id])
  }

  await factors.beginTOTP({ userId: user.id, secretEnc: 'sealed', kekId: 'k' })
  const unconfirmed = randomUUID()
  await pending.create(parkedRow(unconfirmed), { keepPerBrowser: 5 })
  t.same(await pending.firstFactorIfOwed(unconfirmed, user.id, ['pwd'], [], optional), { presence: none, marked: false }, 'an unconfirmed app is no factor')
  await factors.acceptTOTPStep(user.id, 1234567, new Date(), true)
  await factors.replaceRecoveryCodes(user.id, ['h1', 'h2'])
  const id = randomUUID()
  await pending.create(parkedRow(id), { keepPerBrowser: 5 })
  const withApp = { totp: true, passkeys: 0, recoveryCodesLeft: 2 }
  t.same(await pending.firstFactorIfOwed(id, user.id, ['pwd'], [event], { withFactor: false, withoutFactor: true }), { presence: withApp, marked: false }, 'a factor, a step owed only without one: no mark')
  t.same(await pending.firstFactorIfOwed(id, user.id, ['pwd', 'x'], [event], optional), { presence: withApp, marked: true }, 'a confirmed app, MFA optional: the second factor is owed')
  t.same(await mark(id), { factor_user_id: user.id, factor_amr: ['pwd', 'x'] })
  t.same(await factors.factorPresence(user.id), withApp, 'the same presence as its own read')
  t.same(await pending.firstFactorIfOwed(randomUUID(), user.id, ['pwd'], [event], required), { presence: withApp, marked: false }, 'an unknown request: not marked')
  t.same(await trail(), [{ via: 'login_form' }], 'and no event for it')

  // Marked: an asynchronous commit, as the mark's own statement.
  const statement = seen.find((text) => /parked|UPDATE authorization_requests SET factor_user_id/.test(text) && /presence/.test(text))
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(statement!, [id, user.id, ['pwd'], '[]', true, true])
    t.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'off', 'its commit does not wait for the flush')
    await client.query('ROLLBACK')
  } finally {
    client.release()
  }
})
