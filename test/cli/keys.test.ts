/**
 * `stamp keys list | rotate [--force] | revoke KID | rewrap [--new-kek-stdin]`, each with --json,
 * run as the real command (`node dist/cli/index.js`) against a test database.
 *
 * Runs against dist/: `npm ci` builds it (CI runs npm ci before npm test); after changing src,
 * run `npx tsc -p tsconfig.json` first.
 *
 * @module
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue, kekFromBase64url } from '../../src/crypto/kek.js'

// The two tests use separate databases and KEKs, so they may run side by side.
t.jobs = 2

const CLI = resolve(fileURLToPath(import.meta.url), '../../../dist/cli/index.js')

interface Result { code: number, stdout: string, stderr: string, json: any }

function stamp (args: string[], env: Record<string, string>, stdin?: string): Promise<Result> {
  return new Promise((res) => {
    const child = execFile(process.execPath, [CLI, 'keys', ...args], { env: { PATH: process.env.PATH, ...env } }, (err, stdout, stderr) => {
      let json: unknown
      try { json = JSON.parse(stdout) } catch {}
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, json })
    })
    if (stdin !== undefined) child.stdin!.end(stdin)
    else child.stdin!.end()
  })
}

t.test('keys list / rotate / revoke / rewrap with --json', async (t) => {
  const url = await createTestDatabase(t)
  const kek = generateKEKValue()
  const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: kek }

  // A fresh database: the first keyring creates active + next, then a rotation is refused.
  const refused = await stamp(['rotate', '--json'], env)
  t.equal(refused.code, 1, 'rotate without --force refuses while next is younger than JWKS_MAX_AGE + KEY_REFRESH_INTERVAL')
  t.match(refused.stderr, /published for less than JWKS_MAX_AGE.*--force/)
  t.equal(refused.stdout, '', 'nothing on stdout')

  const list = await stamp(['list', '--json'], env)
  t.equal(list.code, 0)
  t.equal(list.json.keys.length, 2)
  for (const key of list.json.keys) {
    t.same(Object.keys(key).sort(), ['activated', 'alg', 'created', 'kid', 'retire_after', 'retired', 'status'])
    t.equal(key.alg, 'RS256')
  }
  const active = list.json.keys.find((k: any) => k.status === 'active')
  const next = list.json.keys.find((k: any) => k.status === 'next')
  t.ok(active.activated && !next.activated)

  const forced = await stamp(['rotate', '--force', '--json'], env)
  t.equal(forced.code, 0)
  t.same({ active: forced.json.active, retiring: forced.json.retiring }, { active: next.kid, retiring: active.kid })

  // Once the next key is old enough, no --force is needed.
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  await db.query(`UPDATE signing_keys SET created_at = created_at - interval '1 hour' WHERE status = 'next'`)
  const rotated = await stamp(['rotate', '--json'], env)
  t.equal(rotated.code, 0, rotated.stderr)
  t.equal(rotated.json.active, forced.json.next)

  const table = await stamp(['list'], env)
  t.match(table.stdout, /^kid\s+alg\s+status\s+created\s+activated\s+retire_after\s+retired/, 'text table with a header')
  t.equal(table.stdout.trim().split('\n').length, 1 + 4)

  const revoked = await stamp(['revoke', rotated.json.active, '--json'], env)
  t.equal(revoked.code, 0, revoked.stderr)
  t.same(revoked.json, { revoked: rotated.json.active, refreshFamiliesRevoked: 0, active: rotated.json.next })
  // Independent commands, run side by side to keep the test short.
  const [listed, unknown, usage] = await Promise.all([
    stamp(['list', '--json'], env), stamp(['revoke', 'no-such-kid', '--json'], env), stamp(['revoke'], env),
  ])
  const afterRevoke = listed.json.keys
  t.equal(afterRevoke.find((k: any) => k.kid === rotated.json.active).status, 'revoked')
  t.equal(afterRevoke.filter((k: any) => k.status === 'active').length, 1)
  t.equal(afterRevoke.filter((k: any) => k.status === 'next').length, 1)
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /no key with kid no-such-kid/)
  t.equal(usage.code, 2, 'usage error without a KID')

  // rewrap: a new KEK is generated and printed (the old one came from the environment).
  const rewrap = await stamp(['rewrap', '--json'], env)
  t.equal(rewrap.code, 0, rewrap.stderr)
  t.equal(rewrap.json.rewrapped, 4, 'every key that still has a private key: 2 retiring, active, next')
  const newKek = rewrap.json.key_encryption_key
  t.equal(rewrap.json.kek_id, kekFromBase64url(newKek).id)
  const { rows } = await db.query('SELECT DISTINCT kek_id FROM signing_keys WHERE private_key_enc IS NOT NULL')
  t.same(rows.map((r) => r.kek_id), [rewrap.json.kek_id])
  const [withOld, withNew] = await Promise.all([
    stamp(['rotate', '--force', '--json'], env), stamp(['rotate', '--force', '--json'], { ...env, KEY_ENCRYPTION_KEY: newKek }),
  ])
  t.equal(withOld.code, 1, 'the old KEK no longer opens the keys')
  t.match(withOld.stderr, /sealed under KEK/)
  t.equal(withNew.code, 0, 'the new KEK does')

  // --new-kek-stdin: the operator supplies the KEK, so it is not echoed.
  const third = generateKEKValue()
  const fromStdin = await stamp(['rewrap', '--new-kek-stdin', '--json'], { ...env, KEY_ENCRYPTION_KEY: newKek }, third + '\n')
  t.equal(fromStdin.code, 0, fromStdin.stderr)
  t.same(Object.keys(fromStdin.json).sort(), ['kek_id', 'other_secrets', 'rewrapped'])
  t.equal(fromStdin.json.kek_id, kekFromBase64url(third).id)
  t.equal((await stamp(['rotate', '--force', '--json'], { ...env, KEY_ENCRYPTION_KEY: third })).code, 0)
})

t.test('rewrap with a file-based KEK replaces keys/kek and keeps the old one beside it', async (t) => {
  const url = await createTestDatabase(t)
  const keysDir = mkdtempSync(join(tmpdir(), 'stamp-cli-keys-'))
  const env = { DATABASE_URL: url, KEYS_DIR: keysDir }
  t.equal((await stamp(['rotate', '--force', '--json'], env)).code, 0)
  const path = join(keysDir, 'kek')
  const before = readFileSync(path, 'utf8').trim()
  t.equal(statSync(path).mode & 0o777, 0o600, 'created 0600')

  const rewrap = await stamp(['rewrap', '--json'], env)
  t.equal(rewrap.code, 0, rewrap.stderr)
  t.notOk('key_encryption_key' in rewrap.json, 'a file-based KEK is not printed')
  const after = readFileSync(path, 'utf8').trim()
  t.not(after, before)
  t.equal(kekFromBase64url(after).id, rewrap.json.kek_id)
  t.equal(statSync(path).mode & 0o777, 0o600)
  const old = readdirSync(keysDir).filter((f) => f.startsWith('kek.old-'))
  t.equal(old.length, 1)
  t.equal(readFileSync(join(keysDir, old[0]), 'utf8').trim(), before, 'old KEK kept for the operator to destroy')
  t.notOk(existsSync(`${path}.tmp`))
  t.equal((await stamp(['rotate', '--force', '--json'], env)).code, 0, 'the rewritten keys/kek opens the keys')
})
