/**
 * `stamp client create --grant device_code` and `--grant token_exchange --exchange-audience AUD`:
 * the short names become the RFC 8628 / RFC 8693 grant URNs, and token exchange needs an allow-list.
 */
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { stamp } from '../fixtures/process.js'

t.test('device_code and token_exchange clients from the CLI', async (t) => {
  const url = await createTestDatabase(t)
  const env = { DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-cli-')), LOG_LEVEL: 'warn' }

  const tv = await stamp(['client', 'create', '--name', 'TV', '--public', '--grant', 'device_code', '--scope', 'openid offline_access', '--json'], env)
  t.equal(tv.code, 0, tv.stderr)
  t.same(JSON.parse(tv.stdout).grant_types.sort(), ['refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'])

  const gateway = await stamp(['client', 'create', '--name', 'Gateway', '--grant', 'token_exchange', '--scope', 'read',
    '--exchange-audience', 'https://orders.example', '--exchange-audience', 'https://billing.example', '--json'], env)
  t.equal(gateway.code, 0, gateway.stderr)
  const out = JSON.parse(gateway.stdout)
  t.same(out.grant_types, ['urn:ietf:params:oauth:grant-type:token-exchange'])
  t.same(out.exchange_audiences, ['https://orders.example', 'https://billing.example'])

  const missing = await stamp(['client', 'create', '--name', 'Bad', '--grant', 'token_exchange'], env)
  t.equal(missing.code, 2, 'a usage error')
  t.match(missing.stderr, /at least one --exchange-audience/)
})
