/**
 * The key-encryption key file: its permissions, when it may be generated, and the GCM tag length.
 */
import t from 'tap'
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKEKValue, kekFromBase64url, loadKEK, open, seal } from '../../src/crypto/kek.js'

function recorder () {
  const warnings: Array<{ obj: object, msg: string }> = []
  return { warnings, log: { warn: (obj: object, msg: string) => { warnings.push({ obj, msg }) } } }
}

const noKeys = async () => 0

t.test('a key file readable by group or others is refused, naming the file and the fix', async (t) => {
  const keysDir = mkdtempSync(join(tmpdir(), 'stamp-kek-'))
  const path = join(keysDir, 'kek')
  writeFileSync(path, generateKEKValue() + '\n', { mode: 0o644 })
  chmodSync(path, 0o644)
  const { log } = recorder()
  await t.rejects(loadKEK({ keysDir }, { sealedKeyCount: noKeys, log }), { message: new RegExp(`${path}.*chmod 600 ${path}`) })
  chmodSync(path, 0o640)
  await t.rejects(loadKEK({ keysDir }, { sealedKeyCount: noKeys, log }), /chmod 600/, 'group-readable too')
  chmodSync(path, 0o600)
  const kek = await loadKEK({ keysDir }, { sealedKeyCount: noKeys, log })
  t.equal(kek.key.length, 32, 'mode 0600 is accepted')
  chmodSync(path, 0o400)
  t.ok(await loadKEK({ keysDir }, { sealedKeyCount: noKeys, log }), 'mode 0400 is accepted')
})

t.test('a KEK is generated only when the database holds no sealed keys, with a warning naming the file', async (t) => {
  const keysDir = mkdtempSync(join(tmpdir(), 'stamp-kek-'))
  const path = join(keysDir, 'kek')
  const { log, warnings } = recorder()
  await t.rejects(loadKEK({ keysDir }, { sealedKeyCount: async () => 2, log }), { message: new RegExp(`${path}.*2 sealed signing keys`) })
  t.notOk(existsSync(path), 'no KEK written that could not open the stored keys')

  const kek = await loadKEK({ keysDir }, { sealedKeyCount: noKeys, log })
  t.ok(existsSync(path))
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(kekFromBase64url(readFileSync(path, 'utf8')).id, kek.id)
  t.equal(warnings.length, 1)
  t.match(warnings[0].msg, path)
  t.match(warnings[0].msg, /generated/)

  const again = await loadKEK({ keysDir }, { sealedKeyCount: async () => 2, log })
  t.equal(again.id, kek.id, 'an existing file is read, whatever the database holds')
  t.equal(warnings.length, 1, 'no warning when the file already exists')
})

t.test('KEY_ENCRYPTION_KEY needs no file and no database check', async (t) => {
  const value = generateKEKValue()
  const kek = await loadKEK({ keyEncryptionKey: value, keysDir: '/nonexistent/stamp' }, { sealedKeyCount: async () => { throw new Error('not called') }, log: recorder().log })
  t.equal(kek.id, kekFromBase64url(value).id)
})

t.test('decryption requires the full 16-byte GCM tag', async (t) => {
  const kek = kekFromBase64url(generateKEKValue())
  const sealed = seal(kek, 'private jwk', 'kid-1')
  t.equal(open(kek, sealed, 'kid-1'), 'private jwk')
  const parts = sealed.split('.')
  const tag = Buffer.from(parts[4], 'base64url')
  t.equal(tag.length, 16)
  for (const length of [4, 8, 12, 15]) {
    // A truncated tag is a prefix of the right one: without a length check GCM accepts it, which
    // cuts a forger's work from 2^128 to 2^(8·length).
    const truncated = [...parts.slice(0, 4), tag.subarray(0, length).toString('base64url')].join('.')
    t.throws(() => open(kek, truncated, 'kid-1'), /tag/, `a ${length}-byte tag is refused`)
  }
  t.throws(() => open(kek, sealed, 'kid-2'), 'the kid is bound as AAD')
})

t.test('stamp refuses to start on such a file, naming it and the fix', async (t) => {
  const { createTestDatabase } = await import('../helper.js')
  const { SERVER, run } = await import('../fixtures/process.js')
  const url = await createTestDatabase(t)
  const keysDir = mkdtempSync(join(tmpdir(), 'stamp-kek-'))
  const path = join(keysDir, 'kek')
  writeFileSync(path, generateKEKValue() + '\n')
  chmodSync(path, 0o644)
  const res = await run(process.execPath, [SERVER], { env: { DATABASE_URL: url, KEYS_DIR: keysDir, KEY_ENCRYPTION_KEY: undefined, PORT: '0', LOG_LEVEL: 'warn' }, timeoutMs: 30_000 })
  t.equal(res.code, 1)
  t.match(res.stderr, `stamp failed to start: the key-encryption key file ${path} is accessible by group or others (mode 0644); restrict it to its owner: chmod 600 ${path}`)
  t.notMatch(res.stderr, /at .*\.js:\d+/, 'no stack trace')
})
