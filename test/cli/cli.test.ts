import t from 'tap'
import { createTestDatabase, ADMIN_URL } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { stamp } from '../fixtures/process.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

t.test('stamp CLI', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-cli-')), LOG_LEVEL: 'warn' }
  t.ok(ADMIN_URL)

  t.test('migrate is idempotent', async (t) => {
    const res = await stamp(['migrate', '--json'], env)
    t.equal(res.code, 0, res.stderr)
    t.same(JSON.parse(res.stdout).applied, [])
  })

  t.test('user create with --password and --password-stdin', async (t) => {
    const a = await stamp(['user', 'create', '--username', 'erin', '--password', 'long enough password', '--email', 'erin@example.com', '--scope', 'read write', '--json'], env)
    t.equal(a.code, 0, a.stderr)
    const user = JSON.parse(a.stdout)
    t.equal(user.username, 'erin')
    t.same(user.scopes, ['read', 'write'])
    t.notMatch(a.stdout, /long enough password|argon2/)
    const b = await stamp(['user', 'create', '--username', 'frank', '--password-stdin', '--json'], env, 'from stdin 123456\n')
    t.equal(b.code, 0, b.stderr)
    const dup = await stamp(['user', 'create', '--username', 'erin', '--password', 'whatever12345678'], env)
    t.equal(dup.code, 1)
    t.match(dup.stderr, /already exists/)
    t.equal(dup.stdout, '')
  })

  t.test('client create prints the secret once and stores only its hash', async (t) => {
    const res = await stamp(['client', 'create', '--name', 'Billing', '--grant', 'client_credentials', '--scope', 'read', '--audience', 'https://billing.example', '--json'], env)
    t.equal(res.code, 0, res.stderr)
    const out = JSON.parse(res.stdout)
    t.ok(out.client_id)
    t.match(out.client_secret, /^[A-Za-z0-9_-]{43}$/)
    const pub = await stamp(['client', 'create', '--name', 'SPA', '--public', '--grant', 'refresh_token', '--json'], env)
    t.equal(pub.code, 0, pub.stderr)
    t.notOk(JSON.parse(pub.stdout).client_secret)
    const fp = await stamp(['client', 'create', '--name', 'App', '--grant', 'password', '--first-party', '--json'], env)
    t.same(JSON.parse(fp.stdout).grant_types.sort(), ['password', 'refresh_token'])
  })

  t.test('client create requires PKCE unless --no-require-pkce; client update changes it', async (t) => {
    const args = ['client', 'create', '--name', 'Web', '--grant', 'authorization_code', '--redirect-uri', 'https://web.example/cb', '--json']
    const on = await stamp(args, env)
    t.equal(on.code, 0, on.stderr)
    t.equal(JSON.parse(on.stdout).require_pkce, true, 'on by default')
    const off = await stamp([...args, '--no-require-pkce'], env)
    t.equal(off.code, 0, off.stderr)
    const { client_id: id } = JSON.parse(off.stdout)
    t.equal(JSON.parse(off.stdout).require_pkce, false)
    const update = await stamp(['client', 'update', id, '--require-pkce', '--json'], env)
    t.equal(update.code, 0, update.stderr)
    t.same(JSON.parse(update.stdout), { client_id: id, require_pkce: true })
    const both = await stamp(['client', 'update', id, '--require-pkce', '--no-require-pkce'], env)
    t.equal(both.code, 2, 'one of the two')
    const missing = await stamp(['client', 'update', 'nope', '--no-require-pkce'], env)
    t.equal(missing.code, 1)
    t.match(missing.stderr, /no client nope/)
  })

  t.test('client create --auth-method private_key_jwt --jwks-file, --require-par, --profile fapi2; update --jwks-uri', async (t) => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { clientKey, jwksOf } = await import('../fixtures/client_keys.js')
    const key = await clientKey('ES256')
    const dir = mkdtempSync(join(tmpdir(), 'stamp-jwks-'))
    writeFileSync(join(dir, 'public.json'), JSON.stringify(jwksOf(key)))
    writeFileSync(join(dir, 'private.json'), JSON.stringify({ keys: [{ ...key.publicJwk, d: 'AAAA' }] }))
    const base = ['client', 'create', '--name', 'Bank', '--grant', 'authorization_code', '--redirect-uri', 'https://bank.example/cb', '--auth-method', 'private_key_jwt', '--json']
    const fapi = await stamp([...base, '--jwks-file', join(dir, 'public.json'), '--profile', 'fapi2'], env)
    t.equal(fapi.code, 0, fapi.stderr)
    const out = JSON.parse(fapi.stdout)
    t.notOk(out.client_secret, 'no secret')
    t.match(out, { token_endpoint_auth_method: 'private_key_jwt', profile: 'fapi2', require_pushed_authorization_requests: true, require_pkce: true, dpop_bound_access_tokens: true, refresh_token_rotation: false })
    const refused = await stamp([...base, '--jwks-file', join(dir, 'private.json')], env)
    t.equal(refused.code, 2)
    t.match(refused.stderr, /private key material/)
    const noKeys = await stamp(base, env)
    t.equal(noKeys.code, 2)
    const update = await stamp(['client', 'update', out.client_id, '--jwks-uri', 'https://bank.example/jwks.json', '--json'], env)
    t.equal(update.code, 0, update.stderr)
    t.same(JSON.parse(update.stdout), { client_id: out.client_id, jwks_uri: 'https://bank.example/jwks.json' })
    const weaken = await stamp(['client', 'update', out.client_id, '--no-require-par'], env)
    t.equal(weaken.code, 1, 'the fapi2 profile keeps PAR')
    // FAPI 2.0 §5.3.2.1: no refresh rotation by default; it can be turned on for "extraordinary circumstances".
    const rotate = await stamp(['client', 'update', out.client_id, '--refresh-rotation', 'on', '--json'], env)
    t.equal(rotate.code, 0, rotate.stderr)
    t.same(JSON.parse(rotate.stdout), { client_id: out.client_id, refresh_token_rotation: true })
    // OIDC Dynamic Client Registration §2 token_endpoint_auth_signing_alg / request_object_signing_alg.
    const pinned = await stamp(['client', 'update', out.client_id, '--auth-signing-alg', 'ES256', '--request-signing-alg', 'ES256', '--json'], env)
    t.equal(pinned.code, 0, pinned.stderr)
    t.same(JSON.parse(pinned.stdout), { client_id: out.client_id, token_endpoint_auth_signing_alg: 'ES256', request_object_signing_alg: 'ES256' })
    const rs256 = await stamp(['client', 'update', out.client_id, '--auth-signing-alg', 'RS256'], env)
    t.equal(rs256.code, 1, 'the fapi2 profile allows PS256, ES256 and EdDSA only')
    t.match(rs256.stderr, /PS256, ES256, EdDSA/)
    const lifted = await stamp(['client', 'update', out.client_id, '--auth-signing-alg', 'any', '--json'], env)
    t.same(JSON.parse(lifted.stdout), { client_id: out.client_id, token_endpoint_auth_signing_alg: null })
    const created = await stamp([...base, '--jwks-file', join(dir, 'public.json'), '--auth-signing-alg', 'EdDSA'], env)
    t.equal(created.code, 2, 'no registered key can sign EdDSA')
    t.match(created.stderr, /no registered key/)
    const badValue = await stamp(['client', 'update', out.client_id, '--refresh-rotation', 'maybe'], env)
    t.equal(badValue.code, 2)
    t.match(badValue.stderr, /on or off/)
    const publicOff = await stamp(['client', 'create', '--name', 'SPA', '--public', '--grant', 'authorization_code', '--grant', 'refresh_token', '--redirect-uri', 'https://spa.example/cb', '--refresh-rotation', 'off'], env)
    t.equal(publicOff.code, 2, 'a public client without DPoP-bound tokens must rotate')
    t.match(publicOff.stderr, /RFC 9700/)
  })

  t.test('usage errors exit 2 on stderr', async (t) => {
    for (const args of [['client', 'create'], ['client', 'create', '--name', 'x', '--grant', 'magic'], ['client', 'create', '--name', 'x', '--grant', 'password'], ['user', 'create', '--username', 'x'], ['bogus'], ['keys', 'list', '--nope']]) {
      const res = await stamp(args, env)
      t.equal(res.code, 2, args.join(' '))
      t.match(res.stderr, /^stamp: /)
      t.equal(res.stdout, '')
    }
  })

  t.test('issue 11 items 5, 9, 11: client ids, URIs and usernames held to the same rules as the admin API', async (t) => {
    for (const [args, pattern] of [
      [['client', 'create', '--name', 'x', '--client-id', '0f8fad5b-d9cb-469f-a165-70867728950e'], /UUID/],
      [['client', 'create', '--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'javascript:alert(1)'], /javascript/],
      [['client', 'create', '--name', 'x', '--grant', 'authorization_code', '--redirect-uri', 'http://app.example/cb'], /loopback/],
      [['client', 'create', '--name', 'x', '--backchannel-logout-uri', 'http://rp.example/bcl'], /https/],
      [['user', 'create', '--username', 'ali\u200bce', '--password', 'long enough password'], /zero-width/],
    ] as Array<[string[], RegExp]>) {
      const res = await stamp(args, env)
      t.equal(res.code, 2, args.join(' '))
      t.match(res.stderr, pattern)
    }
    const native = await stamp(['client', 'create', '--name', 'native', '--public', '--grant', 'authorization_code', '--redirect-uri', 'http://127.0.0.1/cb', '--redirect-uri', 'com.example.app:/cb', '--json'], env)
    t.equal(native.code, 0, native.stderr)
    const dup = await stamp(['user', 'create', '--username', 'ERIN', '--password', 'long enough password'], env)
    t.equal(dup.code, 1, 'erin exists: ERIN is the same user')
    t.match(dup.stderr, /already exists/)
  })

  t.test('keys list shows the active and next key', async (t) => {
    const res = await stamp(['keys', 'list', '--json'], env)
    t.equal(res.code, 0, res.stderr)
    const { keys } = JSON.parse(res.stdout)
    t.same(keys.map((k: { status: string }) => k.status).sort(), ['active', 'next'])
    t.ok(keys.every((k: { alg: string }) => k.alg === 'RS256'))
    const text = await stamp(['keys', 'list'], env)
    t.match(text.stdout, /kid\s+alg\s+status/)
  })

  t.test('a bad configuration fails fast with a message naming the variable', async (t) => {
    const res = await stamp(['keys', 'list'], { ...env, PORT: 'abc' })
    t.equal(res.code, 1)
    t.match(res.stderr, /PORT/)
  })
})
