/**
 * RFC 9728 protected-resource metadata in the verifier, without a framework on the verifier's
 * side: where the document lives (§3.1), what it says (§2), the `resource_metadata` challenge
 * (§5.1) with `scope` (RFC 6750 §3), step-up with 403 `insufficient_scope`, and the audience pinned
 * to the resource's canonical URI (RFC 8707) so a token for one MCP server is refused by another.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { bearerAuth } from '../../packages/verifier/src/http.js'
import {
  canonicalResourceURI, createVerifier, InsufficientScope, protectedResourceMetadata, resourceMetadataPath, resourceMetadataURL,
  TokenMissing, wwwAuthenticate,
} from '../../packages/verifier/src/index.js'
import { startStamp } from '../fixtures/stamp_server.js'

const MCP_A = 'https://mcp-a.example/mcp'
const MCP_B = 'https://mcp-b.example/tools/v1'

async function listen (handler: (req: IncomingMessage, res: ServerResponse) => void, t: Test): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

t.test('where the metadata lives: RFC 9728 §3.1', async (t) => {
  t.equal(resourceMetadataPath('https://mcp.example.com/mcp'), '/.well-known/oauth-protected-resource/mcp')
  t.equal(resourceMetadataPath('https://mcp.example.com/a/b/'), '/.well-known/oauth-protected-resource/a/b', 'a trailing slash is not part of the suffix')
  t.equal(resourceMetadataPath('https://mcp.example.com'), '/.well-known/oauth-protected-resource', 'no path: the bare well-known path')
  t.equal(resourceMetadataPath('https://mcp.example.com/'), '/.well-known/oauth-protected-resource')
  t.equal(resourceMetadataURL('https://MCP.Example.com:8443/mcp'), 'https://mcp.example.com:8443/.well-known/oauth-protected-resource/mcp')
  t.equal(canonicalResourceURI('HTTPS://MCP.example.COM/mcp'), 'https://mcp.example.com/mcp', 'scheme and host lower-cased')
  t.equal(canonicalResourceURI('https://mcp.example.com'), 'https://mcp.example.com/')
  t.throws(() => canonicalResourceURI('https://mcp.example.com/mcp#x'), TypeError, 'RFC 8707 §2: no fragment')
  t.throws(() => canonicalResourceURI('https://mcp.example.com/mcp?tenant=1'), TypeError, 'no query')
  t.throws(() => canonicalResourceURI('mcp.example.com/mcp'), TypeError, 'absolute URI only')
  t.throws(() => canonicalResourceURI('ftp://mcp.example.com/mcp'), TypeError)
  t.throws(() => canonicalResourceURI('https://user:pw@mcp.example.com/mcp'), TypeError)
})

t.test('the document: RFC 9728 §2', async (t) => {
  t.same(protectedResourceMetadata({ resource: MCP_A, authorizationServers: ['https://stamp.example'], scopesSupported: ['mcp:tools.read', 'mcp:tools.write'], resourceName: 'Tools' }), {
    resource: MCP_A,
    authorization_servers: ['https://stamp.example'],
    bearer_methods_supported: ['header'],
    scopes_supported: ['mcp:tools.read', 'mcp:tools.write'],
    resource_name: 'Tools',
  })
  t.throws(() => protectedResourceMetadata({ resource: MCP_A, authorizationServers: [] }), TypeError)
  t.throws(() => protectedResourceMetadata({ resource: MCP_A, authorizationServers: ['stamp.example'] }), TypeError)
  t.throws(() => protectedResourceMetadata({ resource: MCP_A, authorizationServers: ['https://stamp.example'], scopesSupported: ['two words'] }), TypeError)
})

t.test('the challenge: resource_metadata (RFC 9728 §5.1) and scope (RFC 6750 §3)', async (t) => {
  const metadata = resourceMetadataURL(MCP_A)
  t.equal(wwwAuthenticate(new TokenMissing(), { resourceMetadata: metadata }), `Bearer resource_metadata="${metadata}"`)
  t.equal(wwwAuthenticate(new TokenMissing(), { resourceMetadata: metadata, scope: ['mcp:tools.read'] }), `Bearer scope="mcp:tools.read", resource_metadata="${metadata}"`)
  t.equal(wwwAuthenticate(new InsufficientScope(['mcp:tools.write']), { resourceMetadata: metadata, scope: ['ignored'] }),
    `Bearer error="insufficient_scope", error_description="the access token lacks the required scope: mcp:tools.write", scope="mcp:tools.write", resource_metadata="${metadata}"`)
  t.equal(wwwAuthenticate(new TokenMissing()), 'Bearer', 'unchanged without the options')
})

t.test('audience and resource must agree', async (t) => {
  t.throws(() => bearerAuth({ issuer: 'https://stamp.example', audience: 'https://other.example', resource: MCP_A }), /audience must contain/)
  const verifier = createVerifier({ issuer: 'https://stamp.example', audience: MCP_B })
  t.throws(() => bearerAuth({ verifier, resource: MCP_A }), /audience must contain/, 'a shared verifier for another audience is refused')
  t.equal(bearerAuth({ issuer: 'https://stamp.example', resource: 'HTTPS://MCP-A.example/mcp' }).verifier.audience[0], MCP_A, 'audience defaults to the canonical resource URI')
  t.throws(() => bearerAuth({ issuer: 'https://stamp.example' } as never), TypeError, 'neither audience nor resource')
})

t.test('bearerAuth with a resource, against a real Stamp', async (t) => {
  const stamp = await startStamp(t)
  const caller = await stamp.client({ scopes: ['mcp:tools.read', 'mcp:tools.write'], audiences: [MCP_A, MCP_B] })
  const tokenA = await stamp.accessToken(caller, { resource: MCP_A, scope: 'mcp:tools.read' })
  const tokenB = await stamp.accessToken(caller, { resource: MCP_B, scope: 'mcp:tools.read mcp:tools.write' })
  const serverFor = async (resource: string) => {
    const auth = bearerAuth({ issuer: stamp.issuer, resource, scopesSupported: ['mcp:tools.read', 'mcp:tools.write'], resourceName: 'Tools' })
    const base = await listen(async (req, res) => {
      if (auth.serveMetadata(req, res)) return
      const claims = await auth.authorize(req, res, req.url === '/write' ? ['mcp:tools.write'] : ['mcp:tools.read'])
      if (claims) res.writeHead(200).end(claims.aud as string)
    }, t)
    return { auth, base }
  }
  const a = await serverFor(MCP_A)
  const b = await serverFor(MCP_B)
  const metadataA = 'https://mcp-a.example/.well-known/oauth-protected-resource/mcp'

  t.test('serves the metadata at the path-suffixed well-known URL', async (t) => {
    t.equal(a.auth.metadataPath, '/.well-known/oauth-protected-resource/mcp')
    t.equal(a.auth.metadataURL, metadataA)
    const res = await fetch(`${a.base}/.well-known/oauth-protected-resource/mcp`)
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^application\/json/)
    t.equal(res.headers.get('access-control-allow-origin'), '*')
    t.same(await res.json(), {
      resource: MCP_A, authorization_servers: [stamp.issuer], bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools.read', 'mcp:tools.write'], resource_name: 'Tools',
    })
    t.equal((await fetch(`${b.base}/.well-known/oauth-protected-resource/tools/v1`)).status, 200)
    t.equal((await fetch(`${a.base}/.well-known/oauth-protected-resource`)).status, 401, 'not at the root: that would be another resource\'s')
    t.equal((await fetch(`${a.base}/.well-known/oauth-protected-resource/mcp`, { method: 'POST' })).status, 405)
    const head = await fetch(`${a.base}/.well-known/oauth-protected-resource/mcp`, { method: 'HEAD' })
    t.equal(head.status, 200)
    const preflight = await fetch(`${a.base}/.well-known/oauth-protected-resource/mcp`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-headers': 'mcp-protocol-version' } })
    t.equal(preflight.status, 204, 'CORS preflight (MCP clients send MCP-Protocol-Version)')
    t.equal(preflight.headers.get('access-control-allow-headers'), '*')
  })

  t.test('401 without a token points to the metadata and names the scope', async (t) => {
    const res = await fetch(`${a.base}/read`)
    t.equal(res.status, 401)
    t.equal(res.headers.get('www-authenticate'), `Bearer scope="mcp:tools.read", resource_metadata="${metadataA}"`)
  })

  t.test('step-up: 403 insufficient_scope naming the missing scope', async (t) => {
    t.equal((await fetch(`${a.base}/read`, { headers: { authorization: `Bearer ${tokenA}` } })).status, 200)
    const res = await fetch(`${a.base}/write`, { headers: { authorization: `Bearer ${tokenA}` } })
    t.equal(res.status, 403)
    t.equal(res.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", error_description="the access token lacks the required scope: mcp:tools.write", scope="mcp:tools.write", resource_metadata="${metadataA}"`)
    t.same(await res.json(), { error: 'insufficient_scope', error_description: 'the access token lacks the required scope: mcp:tools.write' })
  })

  t.test('RFC 8707: a token for one MCP server is refused by the other', async (t) => {
    const wrong = await fetch(`${a.base}/read`, { headers: { authorization: `Bearer ${tokenB}` } })
    t.equal(wrong.status, 401)
    t.equal(wrong.headers.get('www-authenticate'),
      `Bearer error="invalid_token", error_description="the access token is not intended for this resource", scope="mcp:tools.read", resource_metadata="${metadataA}"`)
    const reverse = await fetch(`${b.base}/read`, { headers: { authorization: `Bearer ${tokenA}` } })
    t.equal(reverse.status, 401)
    const right = await fetch(`${b.base}/write`, { headers: { authorization: `Bearer ${tokenB}` } })
    t.equal(right.status, 200)
    t.equal(await right.text(), MCP_B)
  })

  t.test('metadataMiddleware passes other requests on', async (t) => {
    let passed = 0
    const mw = a.auth.metadataMiddleware()
    const base = await listen((req, res) => mw(req, res, () => { passed++; res.writeHead(204).end() }), t)
    t.equal((await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).status, 200)
    t.equal((await fetch(`${base}/mcp`)).status, 204)
    t.equal(passed, 1)
  })

  t.test('metadataMiddleware under an Express mount path still answers only at the §3.1 path', async (t) => {
    // What Express does for app.use('/.well-known', mw): strips the mount path from req.url and
    // keeps the full one in req.originalUrl.
    const mw = a.auth.metadataMiddleware()
    const base = await listen((req, res) => {
      const original = req.url ?? '/'
      if (!original.startsWith('/.well-known/')) { res.writeHead(404).end(); return }
      Object.assign(req, { originalUrl: original, url: original.slice('/.well-known'.length) })
      mw(req, res, () => res.writeHead(404).end())
    }, t)
    t.equal((await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)).status, 200)
    t.equal((await fetch(`${base}/.well-known/.well-known/oauth-protected-resource/mcp`)).status, 404, 'req.url alone would match here')
  })
})

t.test('without a resource nothing changes', async (t) => {
  const auth = bearerAuth({ issuer: 'https://stamp.example', audience: MCP_A })
  t.equal(auth.metadata, undefined)
  t.equal(auth.metadataPath, undefined)
  const base = await listen((req, res) => { if (!auth.serveMetadata(req, res)) res.writeHead(404).end() }, t)
  t.equal((await fetch(`${base}/.well-known/oauth-protected-resource`)).status, 404)
})
