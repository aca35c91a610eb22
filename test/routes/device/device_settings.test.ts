/**
 * The device flow's settings (RFC 8628): DEVICE_CODE_TTL, DEVICE_POLL_INTERVAL,
 * DEVICE_USER_CODE_LENGTH, DEVICE_USER_CODE_CHARSET and DEVICE_VERIFICATION_URI reach the device
 * authorization response, the stored authorization, the /device page and the code check; bad
 * values stop the boot.
 *
 * @module
 */
import t from 'tap'
import { build, createClient, createUser, postForm } from '../../helper.js'
import { Browser, hiddenFields } from '../../fixtures/browser.js'
import { ConfigError, loadConfig } from '../../../src/config/env.js'
import { defaults } from '../../../src/config/defaults.js'
import { sha256 } from '../../../src/domain/device_flow.js'

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const env = { DEVICE_CODE_TTL: '120', DEVICE_POLL_INTERVAL: '2', DEVICE_USER_CODE_LENGTH: '9', DEVICE_USER_CODE_CHARSET: '0123456789', DEVICE_VERIFICATION_URI: 'https://stamp.example/d' }

t.test('the settings apply end to end', async (t) => {
  const app = await build(t, { env })
  const tv = await createClient(app, { name: 'TV', public: true, grantTypes: [DEVICE_GRANT], scopes: ['read'], audiences: [] })
  const { username, password } = await createUser(app, 'dev-settings', 'correct horse battery staple', ['read'])
  const before = Date.now()
  const res = await postForm(app, '/device_authorization', { client_id: tv.client.id, scope: 'read' })
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.equal(body.expires_in, 120)
  t.equal(body.interval, 2)
  t.match(body.user_code, /^\d{5}-\d{4}$/, '9 digits in two halves')
  t.equal(body.verification_uri, 'https://stamp.example/d')
  t.equal(body.verification_uri_complete, `https://stamp.example/d?user_code=${body.user_code}`)
  const stored = await app.deviceAuthorizations.findByUserCodeHash(sha256(body.user_code.replace('-', '')))
  t.ok(stored, 'stored under the 9-digit code')
  t.equal(stored!.interval, 2)
  t.ok(Math.abs(stored!.expiresAt.getTime() - (before + 120_000)) < 5000, 'expires DEVICE_CODE_TTL after the request')

  // The page takes codes of the configured shape and says what they look like.
  const browser = new Browser(app)
  const entry = await browser.get(`/device?user_code=${body.user_code}`)
  t.equal(entry.statusCode, 200)
  t.match(entry.body, new RegExp(`value="${body.user_code}"`), 'the code is filled in')
  t.match(entry.body, /9 characters, for example 01234-5678/)
  t.match(entry.body, /maxlength="13"/)
  const afterCode = await browser.follow('/device', { ...hiddenFields(entry.body), user_code: body.user_code.replace('-', ' ') })
  t.match(afterCode.res.body, /name="password"/, 'a valid code leads to sign-in')
  const signedIn = await browser.follow('/device/login', { ...hiddenFields(afterCode.res.body), username, password })
  t.match(signedIn.res.body, /name="decision"/, 'and to the approval')

  const other = new Browser(app)
  const page = await other.get('/device')
  const wrongShape = await other.follow('/device', { ...hiddenFields(page.body), user_code: 'BCDF-GHJK' })
  t.equal(wrongShape.res.statusCode, 400, 'a default-shaped code is not one here')
  t.notMatch(wrongShape.res.body, /name="password"/)
})

t.test('defaults: 8 consonants, 600 s, 5 s, the issuer\'s /device', async (t) => {
  const app = await build(t)
  const tv = await createClient(app, { name: 'TV', public: true, grantTypes: [DEVICE_GRANT], scopes: ['read'], audiences: [] })
  const body = (await postForm(app, '/device_authorization', { client_id: tv.client.id, scope: 'read' })).json()
  t.match(body.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
  t.equal(body.expires_in, 600)
  t.equal(body.interval, 5)
  t.equal(body.verification_uri, 'http://stamp.test/device')
  t.equal(body.verification_uri_complete, `http://stamp.test/device?user_code=${body.user_code}`)
  const config = loadConfig({})
  t.same(config.policy.deviceFlow, defaults.deviceFlow)
})

t.test('bad values stop the boot', async (t) => {
  t.throws(() => loadConfig({ DEVICE_USER_CODE_CHARSET: 'AABCDEFGHJ' }), ConfigError, 'a repeated character')
  t.throws(() => loadConfig({ DEVICE_USER_CODE_CHARSET: 'bcdfghjklm' }), /DEVICE_USER_CODE_CHARSET/, 'lower case')
  t.throws(() => loadConfig({ DEVICE_USER_CODE_CHARSET: '0123456789', DEVICE_USER_CODE_LENGTH: '7' }), /10\^8/, '10^7 codes are too few')
  t.throws(() => loadConfig({ DEVICE_USER_CODE_LENGTH: '40' }), /DEVICE_USER_CODE_LENGTH/)
  t.throws(() => loadConfig({ DEVICE_CODE_TTL: '10' }), /DEVICE_CODE_TTL/)
  t.throws(() => loadConfig({ DEVICE_POLL_INTERVAL: '0' }), /DEVICE_POLL_INTERVAL/)
  t.throws(() => loadConfig({ DEVICE_VERIFICATION_URI: 'ftp://x.example/d' }), /DEVICE_VERIFICATION_URI/)
  t.throws(() => loadConfig({ DEVICE_VERIFICATION_URI: 'https://x.example/d#f' }), /DEVICE_VERIFICATION_URI/)
  t.doesNotThrow(() => loadConfig({ DEVICE_USER_CODE_CHARSET: '0123456789', DEVICE_USER_CODE_LENGTH: '8' }))
})
