import t from 'tap'
import { build, createClient, postForm } from '../helper.js'

t.test('token endpoint: client authentication and request errors (RFC 6749 §5.2)', async (t) => {
  const app = await build(t)
  const cc = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['read'], audiences: ['https://a.example', 'https://b.example'] })
  const publicClient = await createClient(app, { public: true, firstParty: true, grantTypes: ['refresh_token', 'password'] })

  const cases: Array<{ name: string, form: Record<string, string>, headers?: Record<string, string>, status: number, error: string, challenge?: boolean }> = [
    { name: 'no client authentication', form: { grant_type: 'client_credentials' }, status: 401, error: 'invalid_client', challenge: true },
    { name: 'wrong secret via Basic', form: { grant_type: 'client_credentials' }, headers: { authorization: 'Basic ' + Buffer.from(`${cc.client.id}:wrong`).toString('base64') }, status: 401, error: 'invalid_client', challenge: true },
    { name: 'unknown client via Basic', form: { grant_type: 'client_credentials' }, headers: { authorization: 'Basic ' + Buffer.from('nobody:x').toString('base64') }, status: 401, error: 'invalid_client', challenge: true },
    { name: 'malformed Basic', form: { grant_type: 'client_credentials' }, headers: { authorization: 'Basic !!!' }, status: 401, error: 'invalid_client', challenge: true },
    { name: 'wrong secret via post', form: { grant_type: 'client_credentials', client_id: cc.client.id, client_secret: 'wrong' }, status: 401, error: 'invalid_client' },
    { name: 'two authentication methods', form: { grant_type: 'client_credentials', client_secret: cc.secret! }, headers: { authorization: cc.basic }, status: 400, error: 'invalid_request' },
    { name: 'confidential client without secret', form: { grant_type: 'client_credentials', client_id: cc.client.id }, status: 401, error: 'invalid_client' },
    { name: 'missing grant_type', form: {}, headers: { authorization: cc.basic }, status: 400, error: 'invalid_request' },
    { name: 'unknown grant_type', form: { grant_type: 'urn:example:magic' }, headers: { authorization: cc.basic }, status: 400, error: 'unsupported_grant_type' },
    { name: 'grant not allowed for the client', form: { grant_type: 'password', username: 'a', password: 'b' }, headers: { authorization: cc.basic }, status: 400, error: 'unauthorized_client' },
    { name: 'public client on client_credentials', form: { grant_type: 'client_credentials', client_id: publicClient.client.id }, status: 400, error: 'unauthorized_client' },
    { name: 'scope not allowed', form: { grant_type: 'client_credentials', scope: 'write' }, headers: { authorization: cc.basic }, status: 400, error: 'invalid_scope' },
    { name: 'malformed scope', form: { grant_type: 'client_credentials', scope: 'read "x"' }, headers: { authorization: cc.basic }, status: 400, error: 'invalid_scope' },
    { name: 'resource not registered', form: { grant_type: 'client_credentials', resource: 'https://evil.example' }, headers: { authorization: cc.basic }, status: 400, error: 'invalid_target' },
  ]
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const res = await postForm(app, '/token', c.form, c.headers)
      t.equal(res.statusCode, c.status)
      t.same(Object.keys(res.json()).sort(), ['error', 'error_description'])
      t.equal(res.json().error, c.error)
      t.equal(res.headers['cache-control'], 'no-store')
      if (c.challenge) t.match(res.headers['www-authenticate'], /^Basic realm=/)
    })
  }

  t.test('repeated parameters are invalid_request (RFC 6749 §3.1)', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: cc.basic }, payload: 'grant_type=client_credentials&scope=read&scope=read' })
    t.equal(res.statusCode, 400)
    t.equal(res.json().error, 'invalid_request')
  })

  t.test('resource selects the audience (RFC 8707)', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'client_credentials', resource: 'https://b.example' }, { authorization: cc.basic })
    t.equal(res.statusCode, 200)
    t.equal(JSON.parse(Buffer.from(res.json().access_token.split('.')[1], 'base64url').toString()).aud, 'https://b.example')
    const both = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: cc.basic })
    t.same(JSON.parse(Buffer.from(both.json().access_token.split('.')[1], 'base64url').toString()).aud, ['https://a.example', 'https://b.example'])
  })

  t.test('empty parameters count as omitted; unknown parameters are ignored (RFC 6749 §3.1)', async (t) => {
    const res = await postForm(app, '/token', { grant_type: 'client_credentials', scope: '', foo: 'bar' }, { authorization: cc.basic })
    t.equal(res.statusCode, 200)
    t.equal(res.json().scope, 'read')
  })

  t.test('malformed input never yields a 5xx', async (t) => {
    const bodies: Array<{ type?: string, payload: string }> = [
      { type: 'application/json', payload: '{"grant_type":"client_credentials"}' },
      { type: 'application/json', payload: '{not json' },
      { type: 'text/plain', payload: 'grant_type=client_credentials' },
      { type: 'multipart/form-data; boundary=x', payload: '--x--' },
      { type: undefined, payload: 'grant_type=client_credentials' },
      { type: 'application/x-www-form-urlencoded', payload: '%%%%&&==&grant_type' },
      { type: 'application/x-www-form-urlencoded', payload: 'grant_type=%E0%A4%A' },
      { type: 'application/x-www-form-urlencoded', payload: 'a='.padEnd(40_000, 'x') },
      { type: 'application/x-www-form-urlencoded; charset=utf-8', payload: 'grant_type=\u0000\u202e' },
      { type: 'application/x-www-form-urlencoded', payload: '' },
    ]
    for (const { type, payload } of bodies) {
      const headers: Record<string, string> = { authorization: cc.basic }
      if (type) headers['content-type'] = type
      const res = await app.inject({ method: 'POST', url: '/token', headers, payload })
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `${type}: ${payload.slice(0, 30)} → ${res.statusCode}`)
      t.ok(typeof res.json().error === 'string' && typeof res.json().error_description === 'string')
      t.equal(res.headers['cache-control'], 'no-store')
    }
    const proto = await app.inject({ method: 'POST', url: '/token', headers: { authorization: cc.basic, 'content-type': 'application/x-www-form-urlencoded' }, payload: '__proto__=x&constructor=y&grant_type=client_credentials' })
    t.equal(proto.statusCode, 200, 'prototype-named parameters are plain data')
    const get = await app.inject({ method: 'GET', url: '/token?grant_type=client_credentials' })
    t.equal(get.statusCode, 404)
    t.equal(get.json().error, 'invalid_request')
  })
})
