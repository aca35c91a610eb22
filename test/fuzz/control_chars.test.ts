/**
 * Issue 11 item 6: a NUL or any other C0 control character in a parameter (form body, query
 * string), a Basic credential, a path parameter or an admin JSON body is invalid_request (400,
 * RFC 6749 JSON, no-store), never a 500. Every endpoint, every parameter it reads, every C0 byte.
 */
import t from 'tap'
import { build, createAdmin, createClient, createUser } from '../helper.js'

const CONTROLS = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0d, 0x1b, 0x1f].map((c) => String.fromCharCode(c))

t.test('control characters are invalid_request everywhere', async (t) => {
  const app = await build(t, { env: { RATE_LIMIT_ENABLED: 'false' } })
  const admin = await createAdmin(app)
  const pw = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token', 'client_credentials'], scopes: ['openid', 'read'] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])

  const failures: string[] = []
  const check = async (label: string, res: { statusCode: number, headers: Record<string, unknown>, body: string }) => {
    let body: { error?: string } = {}
    try { body = JSON.parse(res.body) } catch {}
    if (res.statusCode !== 400 || body.error !== 'invalid_request' || res.headers['cache-control'] !== 'no-store') {
      failures.push(`${label} → ${res.statusCode} ${res.body.slice(0, 120)}`)
    }
  }
  const form = (params: Record<string, string>) => new URLSearchParams(params).toString()

  const formEndpoints: Array<{ url: string, params: Record<string, string>, auth?: string }> = [
    { url: '/token', params: { grant_type: 'password', username, password, scope: 'read' }, auth: pw.basic },
    { url: '/token', params: { grant_type: 'client_credentials', scope: 'read', client_id: pw.client.id, client_secret: pw.secret! } },
    { url: '/token', params: { grant_type: 'refresh_token', refresh_token: 'abc' }, auth: pw.basic },
    { url: '/token', params: { grant_type: 'authorization_code', code: 'abc', redirect_uri: 'https://a.example/cb', code_verifier: 'v'.repeat(43) }, auth: pw.basic },
    { url: '/revoke', params: { token: 'abc', token_type_hint: 'refresh_token' }, auth: pw.basic },
    { url: '/introspect', params: { token: 'abc' }, auth: pw.basic },
    { url: '/userinfo', params: { access_token: 'abc' } },
    { url: '/authorize', params: { client_id: pw.client.id, response_type: 'code', redirect_uri: 'https://a.example/cb', state: 's' } },
    { url: '/login', params: { request: 'r', csrf: 'c', username, password } },
    { url: '/consent', params: { request: 'r', csrf: 'c', decision: 'allow' } },
    { url: '/logout', params: { client_id: pw.client.id, state: 's', post_logout_redirect_uri: 'https://a.example/bye' } },
  ]
  for (const { url, params, auth } of formEndpoints) {
    for (const name of Object.keys(params)) {
      for (const c of CONTROLS) {
        const bad = { ...params, [name]: `${params[name].slice(0, 3)}${c}${params[name].slice(3)}` }
        const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
        if (auth) headers.authorization = auth
        await check(`POST ${url} ${name}=…\\x${c.charCodeAt(0).toString(16)}`, await app.inject({ method: 'POST', url, headers, payload: form(bad) }))
        if (url === '/authorize' || url === '/logout' || url === '/userinfo') {
          await check(`GET ${url}?${name}=…\\x${c.charCodeAt(0).toString(16)}`, await app.inject({ method: 'GET', url: `${url}?${form(bad)}` }))
        }
      }
    }
  }

  // Basic credentials: the id or the secret with a control character (raw and percent-encoded).
  for (const c of CONTROLS) {
    for (const [id, secret] of [[`${pw.client.id}${c}`, pw.secret!], [pw.client.id, `${pw.secret}${c}`], [encodeURIComponent(`x${c}y`), 's']]) {
      const basic = 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64')
      for (const url of ['/token', '/revoke', '/introspect']) {
        await check(`Basic ${url} \\x${c.charCodeAt(0).toString(16)}`, await app.inject({
          method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, payload: form({ grant_type: 'client_credentials', token: 'abc' }),
        }))
      }
    }
  }

  // Admin JSON bodies, query strings and path parameters.
  const auth = { authorization: admin.authorization }
  for (const c of CONTROLS) {
    const hex = c.charCodeAt(0).toString(16)
    await check(`admin POST /admin/users username \\x${hex}`, await app.inject({ method: 'POST', url: '/admin/users', headers: auth, payload: { username: `u${c}x`, password: 'a long password 123' } }))
    await check(`admin POST /admin/users password \\x${hex}`, await app.inject({ method: 'POST', url: '/admin/users', headers: auth, payload: { username: 'ctrl-user', password: `a long password${c}123` } }))
    await check(`admin POST /admin/clients name \\x${hex}`, await app.inject({ method: 'POST', url: '/admin/clients', headers: auth, payload: { name: `n${c}` } }))
    await check(`admin POST /admin/clients redirect_uris \\x${hex}`, await app.inject({ method: 'POST', url: '/admin/clients', headers: auth, payload: { name: 'n', grant_types: ['authorization_code'], redirect_uris: [`https://a.example/${c}`] } }))
    await check(`admin POST /admin/clients audiences \\x${hex}`, await app.inject({ method: 'POST', url: '/admin/clients', headers: auth, payload: { name: 'n', audiences: [`https://api${c}.example`] } }))
    await check(`admin GET /admin/users?cursor \\x${hex}`, await app.inject({ method: 'GET', url: `/admin/users?cursor=a${encodeURIComponent(c)}`, headers: auth }))
    await check(`admin GET /admin/clients/:id \\x${hex}`, await app.inject({ method: 'GET', url: `/admin/clients/a${encodeURIComponent(c)}`, headers: auth }))
    await check(`admin PATCH /admin/clients/:id name \\x${hex}`, await app.inject({ method: 'PATCH', url: `/admin/clients/${pw.client.id}`, headers: auth, payload: { name: `n${c}` } }))
  }
  t.strictSame(failures, [], 'every control character answered 400 invalid_request, no-store')
})
