/**
 * The Fastify plugin as an RFC 9728 protected resource: it serves the metadata at the
 * path-suffixed well-known URL, its 401/403 challenges carry `resource_metadata` and `scope`, and
 * the audience is the resource's canonical URI (RFC 8707).
 *
 * @module
 */
import t from 'tap'
import Fastify from 'fastify'
import stampAuth from '../../packages/verifier/src/fastify.js'
import { startStamp } from '../fixtures/stamp_server.js'

const MCP = 'https://mcp.example/mcp'
const OTHER = 'https://other-mcp.example/'

t.test('the plugin with a resource', async (t) => {
  const stamp = await startStamp(t)
  const caller = await stamp.client({ scopes: ['mcp:tools.read', 'mcp:tools.write'], audiences: [MCP, OTHER] })
  const app = Fastify()
  await app.register(stampAuth, { issuer: stamp.issuer, resource: MCP, scopesSupported: ['mcp:tools.read', 'mcp:tools.write'] })
  app.post('/mcp/read', { preHandler: app.requireScope('mcp:tools.read') }, async (request) => ({ aud: request.auth!.aud }))
  app.post('/mcp/write', { preHandler: app.requireScope('mcp:tools.write') }, async () => ({ ok: true }))
  app.post('/mcp', { preHandler: app.authenticate }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  const metadataURL = 'https://mcp.example/.well-known/oauth-protected-resource/mcp'

  const doc = await app.inject('/.well-known/oauth-protected-resource/mcp')
  t.equal(doc.statusCode, 200)
  t.same(doc.json(), { resource: MCP, authorization_servers: [stamp.issuer], bearer_methods_supported: ['header'], scopes_supported: ['mcp:tools.read', 'mcp:tools.write'] })
  t.equal(doc.headers['access-control-allow-origin'], '*')
  t.equal((await app.inject({ method: 'HEAD', url: '/.well-known/oauth-protected-resource/mcp' })).statusCode, 200)
  const preflight = await app.inject({ method: 'OPTIONS', url: '/.well-known/oauth-protected-resource/mcp', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-headers'], '*')

  const bare = await app.inject({ method: 'POST', url: '/mcp' })
  t.equal(bare.statusCode, 401)
  t.equal(bare.headers['www-authenticate'], `Bearer resource_metadata="${metadataURL}"`)
  const scoped = await app.inject({ method: 'POST', url: '/mcp/write' })
  t.equal(scoped.headers['www-authenticate'], `Bearer scope="mcp:tools.write", resource_metadata="${metadataURL}"`, '401 names the route\'s scope')

  const read = await stamp.accessToken(caller, { resource: MCP, scope: 'mcp:tools.read' })
  const ok = await app.inject({ method: 'POST', url: '/mcp/read', headers: { authorization: `Bearer ${read}` } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { aud: MCP })
  const stepUp = await app.inject({ method: 'POST', url: '/mcp/write', headers: { authorization: `Bearer ${read}` } })
  t.equal(stepUp.statusCode, 403)
  t.equal(stepUp.headers['www-authenticate'], `Bearer error="insufficient_scope", error_description="the access token lacks the required scope: mcp:tools.write", scope="mcp:tools.write", resource_metadata="${metadataURL}"`)

  const foreign = await stamp.accessToken(caller, { resource: OTHER, scope: 'mcp:tools.read mcp:tools.write' })
  const refused = await app.inject({ method: 'POST', url: '/mcp/read', headers: { authorization: `Bearer ${foreign}` } })
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['www-authenticate'], /error="invalid_token", error_description="the access token is not intended for this resource"/)
})

t.test('a resource without a path serves the bare well-known path; serveMetadata: false serves nothing', async (t) => {
  const app = Fastify()
  await app.register(stampAuth, { issuer: 'https://stamp.example', resource: OTHER, jwksUri: 'https://stamp.example/jwks' })
  t.teardown(() => app.close())
  const res = await app.inject('/.well-known/oauth-protected-resource')
  t.equal(res.statusCode, 200)
  t.equal(res.json().resource, OTHER)
  t.equal(app.stampVerifier.audience[0], OTHER)

  const quiet = Fastify()
  await quiet.register(stampAuth, { issuer: 'https://stamp.example', resource: OTHER, serveMetadata: false, jwksUri: 'https://stamp.example/jwks' })
  t.teardown(() => quiet.close())
  t.equal((await quiet.inject('/.well-known/oauth-protected-resource')).statusCode, 404)
  const bare = await quiet.inject('/anything')
  t.equal(bare.statusCode, 404)
  await t.rejects(async () => {
    const bad = Fastify()
    await bad.register(stampAuth, { issuer: 'https://stamp.example', audience: 'https://x.example', resource: OTHER })
  }, /audience must contain/)
})
