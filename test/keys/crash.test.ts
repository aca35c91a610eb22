/**
 * Crash during rotation: a process that holds the key lock with half a rotation written is
 * SIGKILLed. PostgreSQL rolls the transaction back and frees the advisory lock, so the key set is
 * exactly what it was (one active, one next), nothing half-written, and the next rotation works.
 *
 * The child runs against dist/ (`npm ci` builds it; after changing src run `npx tsc -p tsconfig.json`).
 *
 * @module
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { build, createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { prismaKeyStore } from '../../src/storage/prisma/keys.js'
import { countBy, statuses } from '../fixtures/keys.js'

const CHILD = resolve(fileURLToPath(import.meta.url), '../../fixtures/crash_rotation.mjs')

t.test('SIGKILL in the middle of a rotation transaction leaves the key set whole', async (t) => {
  const url = await createTestDatabase(t)
  const kek = generateKEKValue()
  const app = await build(t, { databaseUrl: url, env: { KEY_ENCRYPTION_KEY: kek } })
  const before = await statuses(app)
  const jwks = app.keyring.jwks()

  const child = spawn(process.execPath, [CHILD], { env: { PATH: process.env.PATH, DATABASE_URL: url, KEY_ENCRYPTION_KEY: kek }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const freshKid = await new Promise<string>((res, rej) => {
    child.stdout.on('data', (d) => { const m = /in-transaction (\S+)/.exec(String(d)); if (m) res(m[1]) })
    child.on('exit', (code) => rej(new Error(`child exited early (${code}): ${stderr}`)))
  })

  // While the child is inside its transaction: nothing of it is visible, and the lock is held.
  t.same(await statuses(app), before, 'the half-done rotation is invisible to everyone else')
  const store = prismaKeyStore(app.prisma)
  t.equal(await store.locked(async () => 'got it', { tryOnly: true }), undefined, 'the key lock is held by the child')
  await app.keyring.tick() // a scheduled round on this instance does not block or fail meanwhile
  t.equal(app.keyring.jwks().etag, jwks.etag)

  child.kill('SIGKILL')
  await new Promise((r) => child.exitCode !== null ? r(null) : child.once('exit', r))
  t.equal(child.signalCode, 'SIGKILL')

  const after = await statuses(app)
  t.same(after, before, 'rolled back: the same two keys in the same states')
  t.notOk(freshKid in after, 'the key inserted by the killed transaction does not exist')
  t.same([countBy(after, 'active'), countBy(after, 'next'), Object.keys(after).length], [1, 1, 2])

  // The lock died with the connection: the next rotation goes through.
  const rotated = await app.keyring.rotate({ force: true })
  const final = await statuses(app)
  t.same([final[rotated.active], final[rotated.next], final[rotated.retiring]], ['active', 'next', 'retiring'])
  t.same([countBy(final, 'active'), countBy(final, 'next')], [1, 1])
})
