import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config/env.js'

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 4000)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.issuer, 'http://localhost:4000')
  t.equal(config.databaseUrl, undefined)
  t.equal(config.policy.accessTokenTTL, 300)
  t.equal(config.policy.refreshTokenTTL, 86_400)
  t.equal(config.policy.signingAlg, 'RS256')
})

t.test('overrides are coerced and validated', async (t) => {
  const config = loadConfig({ PORT: '8080', ISSUER: 'https://id.example.com/', ACCESS_TOKEN_TTL: '60', TRUST_PROXY: 'true' })
  t.equal(config.port, 8080)
  t.equal(config.issuer, 'https://id.example.com', 'trailing slash removed')
  t.equal(config.policy.accessTokenTTL, 60)
  t.equal(config.trustProxy, true)
})

t.test('bad values fail with a message naming the variable', async (t) => {
  const bad: Record<string, string>[] = [
    { PORT: 'abc' }, { PORT: '70000' }, { ISSUER: 'ftp://x' }, { ISSUER: 'https://x/?q=1' }, { DATABASE_URL: 'mysql://x' },
    { KEY_ENCRYPTION_KEY: 'short' }, { LOG_LEVEL: 'loud' }, { SIGNING_ALG: 'HS256' }, { SIGNING_ALG: 'none' }, { ACCESS_TOKEN_TTL: '0' },
  ]
  for (const env of bad) {
    const name = Object.keys(env)[0]
    let error: unknown
    try { loadConfig(env) } catch (err) { error = err }
    t.ok(error instanceof ConfigError, `${name} rejected`)
    t.match((error as Error).message, name)
  }
})

t.test('refresh retry window and family lifetime (REFRESH_GRACE_SECONDS is a deprecated alias)', async (t) => {
  t.equal(loadConfig({}).policy.refreshRetrySeconds, 10)
  t.equal(loadConfig({}).policy.refreshFamilyMaxAge, 30 * 86_400)
  t.equal(loadConfig({ REFRESH_GRACE_SECONDS: '5' }).policy.refreshRetrySeconds, 5)
  t.equal(loadConfig({ REFRESH_GRACE_SECONDS: '5', REFRESH_RETRY_SECONDS: '0' }).policy.refreshRetrySeconds, 0)
  t.equal(loadConfig({ REFRESH_FAMILY_MAX_AGE: '3600' }).policy.refreshFamilyMaxAge, 3600)
  t.throws(() => loadConfig({ REFRESH_FAMILY_MAX_AGE: '10' }), /REFRESH_FAMILY_MAX_AGE/)
})
