/**
 * Fuzz suite: FUZZ_COUNT (default 10,000) generated malformed requests across every endpoint
 * (random methods, headers, content types, encodings, oversized values, repeated parameters,
 * injection strings, broken JSON, valid and forged credentials), from a fixed-seed PRNG so a
 * failure reproduces. For every response: no 5xx; every 4xx with a body is JSON of exactly
 * `{error, error_description}` (strings); no stack trace or internal path in any body.
 */
import t from 'tap'
import { build, createAdmin, createClient, createUser } from '../helper.js'

const COUNT = Number(process.env.FUZZ_COUNT ?? 10_000)
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed)

/** mulberry32: small, fast, good enough for test generation. */
function prng (seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let r = Math.imul(a ^ (a >>> 15), 1 | a)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]
  const chance = (p: number) => next() < p
  return { next, int, pick, chance }
}

const INJECTIONS = [
  "' OR '1'='1", "'; DROP TABLE users; --", '" OR ""="', '<script>alert(1)</script>', '../../../../etc/passwd', '..%2f..%2fetc%2fpasswd',
  '${jndi:ldap://127.0.0.1/a}', '{{7*7}}', '%00', '\u0000', '\r\nX-Injected: 1', '$(reboot)', '`id`', '__proto__', 'constructor',
  '{"$gt": ""}', 'NaN', '-1', '1e309', '9'.repeat(40), '\uD800', '\uFFFF', '🔑'.repeat(50), 'null', 'undefined', 'true', '[]', '{}',
  'A'.repeat(5000), 'ä'.repeat(3000), '%zz%', '%', '+', ' ', '=', '&', '%E0%A4%A', 'a=b&c', '\\', '*', '#frag', 'http://evil.example/#x',
  // C0 controls and DEL (issue 11 item 6), alone and inside otherwise plausible values.
  'a\u0000b', '\u0001', '\u001f', '\u007f', 'alice\u0000', '\u001b[31m', 'x\ty', '%01', '%7F',
]
const GRANTS = ['client_credentials', 'password', 'refresh_token', 'authorization_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', '', 'PASSWORD', 'implicit',
  'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange']
const PARAMS = ['grant_type', 'client_id', 'client_secret', 'username', 'password', 'scope', 'refresh_token', 'resource', 'token', 'token_type_hint', 'code', 'redirect_uri', 'audience', '__proto__', 'constructor[prototype][x]', 'a[b]', '',
  'device_code', 'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type']
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=latin1',
  'application/json', 'application/json; charset=utf-16', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml',
  'application/octet-stream', 'text/html', 'application/jwt', '', 'garbage', 'application/json, text/plain', 'APPLICATION/JSON',
  'application/x-www-form-urlencoded;;;', '*/*',
]

/** encodeURIComponent, which throws on lone surrogates; those become U+FFFD. */
function enc (value: string): string {
  try { return encodeURIComponent(value) } catch { return encodeURIComponent(value.replace(/[\uD800-\uDFFF]/g, '\uFFFD')) }
}

t.test(`fuzz: ${COUNT} malformed requests, seed ${SEED}`, async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false', METRICS_TOKEN: 'm'.repeat(40) } })
  const admin = await createAdmin(app)
  const cc = await createClient(app)
  const pw = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  const pub = await createClient(app, { public: true, firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  const { user, username } = await createUser(app)
  const victim = await createClient(app)
  const login = await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: admin.console.basic }, payload: new URLSearchParams({ grant_type: 'password', username: admin.username, password: admin.password }).toString() })
  const refreshToken: string = login.json().refresh_token
  const r = prng(SEED)

  const text = (): string => {
    switch (r.int(6)) {
      case 0: return r.pick(INJECTIONS)
      case 1: return String(r.int(1e6) - 1000)
      case 2: return Array.from({ length: r.int(40) }, () => String.fromCharCode(r.int(0xffff))).join('')
      case 3: return r.pick([username, admin.username, cc.client.id, pw.client.id, user.id, refreshToken, admin.accessToken, 'openid', 'read stamp:admin'])
      case 4: return 'x'.repeat(r.pick([0, 1, 255, 256, 1025, 4096, 17_000]))
      default: return Buffer.from(Array.from({ length: r.int(30) }, () => r.int(256))).toString(r.pick(['latin1', 'base64', 'hex', 'utf8'] as const))
    }
  }
  const json = (depth = 0): unknown => {
    switch (r.int(depth > 3 ? 4 : 7)) {
      case 0: return text()
      case 1: return r.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, 2 ** 64])
      case 2: return r.chance(0.5)
      case 3: return null
      case 4: return Array.from({ length: r.int(4) }, () => json(depth + 1))
      default: {
        const keys = ['name', 'grant_types', 'scopes', 'public', 'first_party', 'username', 'password', 'email', 'disabled', 'admin', 'force', 'redirect_uris', 'audiences', 'client_id', 'extra', '__proto__', 'constructor']
        return Object.fromEntries(Array.from({ length: r.int(5) }, () => [r.pick(keys), json(depth + 1)]))
      }
    }
  }
  const form = (): string => {
    const pairs: string[] = []
    for (let i = 0, n = r.int(7); i < n; i++) {
      const name = r.pick(PARAMS)
      let value = name === 'grant_type' ? r.pick(GRANTS) : text()
      if (name === 'grant_type' && value === 'password' && r.chance(0.7)) value = 'client_credentials' // keep argon2 work bounded
      pairs.push(r.chance(0.1) ? `${name}=${value}` : `${enc(name)}=${enc(value)}`)
      if (r.chance(0.1)) pairs.push(pairs[pairs.length - 1]) // repeated parameter
    }
    return pairs.join(r.chance(0.05) ? ';' : '&')
  }
  const ids = () => enc(r.pick([victim.client.id, user.id, text(), '00000000-0000-4000-8000-000000000000', '..', '%2e%2e', 'a'.repeat(300)]))
  const paths = (): string => r.pick([
    '/token', '/token', '/token', '/revoke', '/introspect', '/jwks', '/device_authorization', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server',
    '/metrics', '/docs/json', '/docs', '/nope', `/${enc(text())}`, `/${text().replace(/[^\x21-\x7e]/g, '')}`, '//token', '/token/', '/TOKEN', '/token?x=1',
    '/admin/clients', `/admin/clients/${ids()}`, `/admin/clients/${ids()}/secret`, `/admin/clients/${ids()}/refresh-families`,
    '/admin/users', `/admin/users/${ids()}`, `/admin/users/${ids()}/password`, `/admin/users/${ids()}/sessions`, `/admin/users/${ids()}/sign-out`,
    `/admin/users/${ids()}/refresh-families`, `/admin/refresh-families/${ids()}`, `/admin/refresh-families/${ids()}/revoke`,
    '/admin/keys', '/admin/keys/rotate', `/admin/keys/${enc(text())}/revoke`, '/admin/audit-events', '/admin',
  ])
  const query = () => r.chance(0.3) ? '?' + r.pick([`limit=${text()}`, `cursor=${enc(text())}`, 'limit=1&limit=2', `type=${enc(text())}`, '%%%', `token=${admin.accessToken}`]) : ''
  const authorization = (): string | undefined => r.pick([
    undefined, admin.authorization, admin.authorization, cc.basic, pw.basic, `Bearer ${text()}`, `Basic ${text()}`,
    `Basic ${Buffer.from(`${cc.client.id}:${text()}`).toString('base64')}`, `Basic ${Buffer.from(text()).toString('base64')}`,
    `Basic ${Buffer.from(`${cc.client.id}\u0000:x`).toString('base64')}`, `Basic ${Buffer.from(`${encodeURIComponent('a\u0000')}:x`).toString('base64')}`,
    `Bearer ${admin.refreshToken}`, `Bearer ${admin.accessToken.slice(0, -4)}AAAA`, 'Bearer', 'Basic', text(), 'Bearer ' + 'a'.repeat(9000),
  ])

  const stats = { total: 0, byStatus: new Map<number, number>() }
  const failures: string[] = []
  const started = Date.now()
  for (let i = 0; stats.total < COUNT && i < COUNT * 1.1; i++) {
    const method = r.chance(0.6) ? (r.chance(0.7) ? 'POST' : 'GET') : r.pick(METHODS)
    const url = paths() + query()
    const headers: Record<string, string> = {}
    const contentType = r.pick(CONTENT_TYPES)
    if (contentType) headers['content-type'] = contentType
    const auth = authorization()
    if (auth !== undefined) headers.authorization = auth
    if (r.chance(0.1)) headers['x-forwarded-for'] = text()
    if (r.chance(0.05)) headers['content-encoding'] = r.pick(['gzip', 'br', 'deflate', 'identity', 'bogus'])
    if (r.chance(0.05)) headers.accept = text()
    if (r.chance(0.05)) headers['if-none-match'] = text()
    let payload: string | Buffer | undefined
    switch (r.int(6)) {
      case 0: payload = undefined; break
      case 1: case 2: payload = form(); break
      case 3: payload = JSON.stringify(json()); break
      case 4: payload = r.pick(['{', '{"a":', '[1,2', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', 'null', '""', '\u0000', '%FF%FE', 'a=%zz']); break
      default: payload = Buffer.from(Array.from({ length: r.pick([1, 10, 100, 20_000]) }, () => r.int(256)))
    }
    if (method === 'GET' || method === 'HEAD') payload = r.chance(0.8) ? undefined : payload
    let res
    try {
      res = await app.inject({ method, url, headers, payload, remoteAddress: `10.${r.int(4)}.${r.int(256)}.${r.int(256)}` })
    } catch (err) {
      // inject refuses some header values itself (e.g. invalid characters): not a server response.
      if (/ERR_INVALID_CHAR|ERR_INVALID_URL/.test(String((err as { code?: string }).code)) || /Invalid (character|URL)/.test((err as Error).message)) continue
      throw err
    }
    stats.total++
    stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1)
    const where = `#${i} ${method} ${url.slice(0, 80)} [${contentType}] → ${res.statusCode}`
    if (res.statusCode >= 500) failures.push(`${where}: ${res.body.slice(0, 200)}`)
    if (/\bat [^\n]*\.(?:js|ts):\d+|node_modules|\/work\//.test(res.body)) failures.push(`${where}: leaks internals: ${res.body.slice(0, 200)}`)
    if (res.statusCode >= 400 && method !== 'HEAD') {
      let body: unknown
      try { body = res.json() } catch { failures.push(`${where}: not JSON: ${res.body.slice(0, 120)}`); continue }
      const ok = typeof body === 'object' && body !== null &&
        Object.keys(body).sort().join(',') === 'error,error_description' &&
        typeof (body as Record<string, unknown>).error === 'string' && typeof (body as Record<string, unknown>).error_description === 'string'
      if (!ok) failures.push(`${where}: malformed error body ${res.body.slice(0, 200)}`)
      if (!String(res.headers['content-type']).startsWith('application/json')) failures.push(`${where}: content-type ${res.headers['content-type']}`)
    }
    if (failures.length > 20) break
  }
  const seconds = (Date.now() - started) / 1000
  t.comment(`fuzz: ${stats.total} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...stats.byStatus].sort((a, b) => a[0] - b[0])))}`)
  t.strictSame(failures, [], 'no 5xx, every 4xx a well-formed RFC 6749 JSON error, nothing internal leaked')
  t.equal(stats.total, COUNT, `${COUNT} requests answered by the server (the few that inject itself refuses are replaced)`)
  t.equal((Object.prototype as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
})
