/**
 * End to end with the official MCP SDK (`@modelcontextprotocol/sdk`): its Streamable HTTP client
 * and OAuth client provider, knowing nothing but the MCP server's URL, against
 * examples/mcp-server (the SDK's server behind `stamp-verifier/http`) and a real Stamp, all on
 * loopback over real HTTP:
 *
 * 401 → RFC 9728 protected-resource metadata → Stamp's RFC 8414 metadata → registration (a client
 * ID metadata document served over https with a self-signed certificate and an injected DNS; or,
 * in the second test, RFC 7591 dynamic registration) → authorization code with PKCE and `resource`
 * (sign-in and consent scripted with a cookie-keeping client) → tools → 403 `insufficient_scope` for
 * the tool whose scope the user lacks → refresh → refused by a second MCP server (another audience).
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import { decodeJwt } from 'jose'
import type { FastifyInstance } from 'fastify'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { build, createUser } from '../helper.js'
import { Browser, hiddenFields } from '../fixtures/browser.js'
import { fakeDNS, json, selfSignedCertificate, startDocumentServer } from '../fixtures/document_server.js'
import { freePort } from '../fixtures/stamp_server.js'
// @ts-expect-error the example is plain JavaScript without declarations
import { buildMcpApp } from '../../examples/mcp-server/app.js'

const CB = 'http://127.0.0.1:33418/callback'
const AGENT_HOST = 'agent.test'
const READ = 'mcp:tools.read'
const WRITE = 'mcp:tools.write'

/** An http server whose handler is attached later (the MCP servers' URIs must be known before Stamp boots). */
async function reserve (t: Test): Promise<{ server: Server, resource: string }> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { server, resource: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp` }
}

/** The SDK's OAuth client provider contract, with the browser step handed to the test. */
class TestProvider implements OAuthClientProvider {
  readonly redirectUrl = CB
  readonly clientMetadata: OAuthClientMetadata = {
    client_name: 'SDK test agent', redirect_uris: [CB], grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'], token_endpoint_auth_method: 'none',
  }

  readonly clientMetadataUrl: string | undefined
  authorizationUrl: URL | undefined
  client: OAuthClientInformationMixed | undefined
  saved: OAuthTokens[] = []
  #verifier = ''

  constructor (clientMetadataUrl?: string) { this.clientMetadataUrl = clientMetadataUrl }
  clientInformation () { return this.client }
  saveClientInformation (info: OAuthClientInformationMixed) { this.client = info }
  tokens () { return this.saved.at(-1) }
  saveTokens (tokens: OAuthTokens) { this.saved.push(tokens) }
  redirectToAuthorization (url: URL) { this.authorizationUrl = url }
  saveCodeVerifier (verifier: string) { this.#verifier = verifier }
  codeVerifier () { return this.#verifier }
}

/** Records every response the MCP client got (status and challenge). */
function recordingFetch (log: Array<{ url: string, status: number, challenge: string | null }>): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init)
    log.push({ url: String(input instanceof Request ? input.url : input), status: res.status, challenge: res.headers.get('www-authenticate') })
    return res
  }
}

async function setup (t: Test) {
  const tls = selfSignedCertificate([AGENT_HOST])
  const documents = await startDocumentServer({ tls })
  t.teardown(() => documents.close())
  const dns = fakeDNS({ [AGENT_HOST]: ['127.0.0.1'] })
  const a = await reserve(t)
  const b = await reserve(t)
  let stamp: FastifyInstance | undefined
  let issuer = ''
  for (let attempt = 0; attempt < 3 && !stamp; attempt++) {
    const port = await freePort()
    issuer = `http://127.0.0.1:${port}`
    const app = await build(t, {
      env: {
        ISSUER: issuer,
        CLIENT_METADATA_ALLOW_LOOPBACK: 'true',
        REGISTRATION: 'open',
        REGISTRATION_SCOPES: `openid offline_access ${READ} ${WRITE}`,
        // Both MCP servers are allowed audiences: the client could get a token for B, but not use A's there.
        REGISTRATION_AUDIENCES: `${a.resource},${b.resource}`,
      },
      clientMetadataFetch: { lookup: dns.lookup, ca: documents.ca },
    })
    try { await app.listen({ port, host: '127.0.0.1' }); stamp = app } catch { /* port taken: retry */ }
  }
  if (!stamp) throw new Error('could not start Stamp')
  const mcpA = buildMcpApp({ issuer, resource: a.resource })
  const mcpB = buildMcpApp({ issuer, resource: b.resource })
  a.server.on('request', mcpA.app)
  b.server.on('request', mcpB.app)
  // alice may use the read tool only: Stamp grants a user only the scopes the account has.
  const alice = await createUser(stamp, 'alice', 'correct horse battery staple', [READ])
  return { stamp, issuer, documents, a: a.resource, b: b.resource, alice }
}

/** What a user does in the browser: sign in, allow, and hand back the redirect's code. */
async function signInAndConsent (t: Test, stamp: FastifyInstance, issuer: string, url: URL, user: { username: string, password: string }): Promise<string> {
  const browser = new Browser(stamp, issuer)
  const login = await browser.follow(url.href)
  t.equal(login.res.statusCode, 200, 'sign-in page')
  const consent = await browser.signIn(login.res, user.username, user.password)
  t.notOk(consent.location, 'third-party client: consent is asked')
  t.match(consent.res.body, /SDK test agent/, 'the consent page names the client')
  const decided = await browser.follow(`${issuer}/consent`, { ...hiddenFields(consent.res.body), decision: 'allow' })
  const location = decided.location
  t.ok(location, 'redirected back to the client')
  t.equal(location!.origin + location!.pathname, CB)
  t.equal(location!.searchParams.get('iss'), issuer, 'RFC 9207 iss on the redirect')
  return location!.searchParams.get('code')!
}

/** The whole journey for one provider (CIMD or DCR). */
async function journey (t: Test, env: Awaited<ReturnType<typeof setup>>, provider: TestProvider) {
  const { stamp, issuer, a, b, alice } = env
  const log: Array<{ url: string, status: number, challenge: string | null }> = []

  // 1. Knowing only the MCP server's URL: 401 → metadata → Stamp → authorization request.
  const first = new StreamableHTTPClientTransport(new URL(a), { authProvider: provider, fetch: recordingFetch(log) })
  await t.rejects(new Client({ name: 'sdk-test', version: '1.0.0' }).connect(first), { message: 'Unauthorized' }, 'the user must sign in (UnauthorizedError)')
  t.match(log[0], { url: a, status: 401, challenge: `Bearer resource_metadata="${a.replace('/mcp', '/.well-known/oauth-protected-resource/mcp')}"` })
  t.ok(log.some((r) => r.url.endsWith('/.well-known/oauth-protected-resource/mcp') && r.status === 200), 'protected-resource metadata fetched')
  t.ok(log.some((r) => r.url === `${issuer}/.well-known/oauth-authorization-server` && r.status === 200), 'Stamp discovered from it')
  const url = provider.authorizationUrl!
  t.ok(url, 'the SDK asked to open the authorization URL')
  t.equal(url.origin + url.pathname, `${issuer}/authorize`)
  t.equal(url.searchParams.get('resource'), a, 'RFC 8707 resource = the MCP server')
  t.equal(url.searchParams.get('code_challenge_method'), 'S256')
  t.ok(url.searchParams.get('code_challenge'))
  t.equal(url.searchParams.get('scope'), `${READ} ${WRITE}`, 'scopes from the metadata\'s scopes_supported')

  // 2. The user signs in and allows; the SDK exchanges the code (PKCE verifier, resource).
  const code = await signInAndConsent(t, stamp, issuer, url, alice)
  await first.finishAuth(code)
  const tokens = provider.tokens()!
  t.ok(tokens.refresh_token, 'a refresh token (the client registered the refresh_token grant)')
  const claims = decodeJwt(tokens.access_token)
  t.equal(claims.aud, a, 'audience = the MCP server\'s canonical URI')
  t.equal(claims.scope, READ, 'only the scope alice has')
  t.equal(claims.client_id, provider.client!.client_id)

  // 3. Connected: the read tool works.
  log.length = 0
  const client = new Client({ name: 'sdk-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(a), { authProvider: provider, fetch: recordingFetch(log) }))
  const { tools } = await client.listTools()
  t.same(tools.map((tool) => tool.name).sort(), ['add_note', 'list_notes'])
  const listed = await client.callTool({ name: 'list_notes', arguments: {} })
  t.same(listed.content, [{ type: 'text', text: '[]' }])

  // 4. The write tool: 403 insufficient_scope naming mcp:tools.write. The SDK tries to step up
  //    (it refreshes: alice still lacks the scope), gets the same 403 and gives up.
  const before = provider.saved.length
  log.length = 0
  await t.rejects(client.callTool({ name: 'add_note', arguments: { text: 'hello' } }), { code: 403 })
  const refused = log.filter((r) => r.url === a && r.status === 403)
  t.ok(refused.length >= 1, 'HTTP 403 from the MCP server')
  t.match(refused[0].challenge, new RegExp(`^Bearer error="insufficient_scope", error_description="[^"]+", scope="${WRITE}", resource_metadata="`))
  t.equal(provider.saved.length, before + 1, 'the step-up attempt refreshed the tokens')
  const refreshed = provider.tokens()!
  t.not(refreshed.access_token, tokens.access_token, 'new access token')
  t.not(refreshed.refresh_token, tokens.refresh_token, 'refresh token rotated')
  t.equal(decodeJwt(refreshed.access_token).aud, a, 'the refreshed token keeps the resource')

  // 5. An explicit refresh through the SDK's auth(), and the read tool with the new token.
  t.equal(await auth(provider, { serverUrl: new URL(a) }), 'AUTHORIZED')
  t.equal(provider.saved.length, before + 2)
  const again = await client.callTool({ name: 'list_notes', arguments: {} })
  t.same(again.content, [{ type: 'text', text: '[]' }])
  await client.close()

  // 6. A second MCP server with another audience refuses A's token (RFC 8707).
  const res = await fetch(b, {
    method: 'POST',
    headers: { authorization: `Bearer ${provider.tokens()!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_notes', arguments: {} } }),
  })
  t.equal(res.status, 401)
  t.match(res.headers.get('www-authenticate'), /error="invalid_token", error_description="the access token is not intended for this resource"/)
  t.match(res.headers.get('www-authenticate'), `resource_metadata="${b.replace('/mcp', '/.well-known/oauth-protected-resource/mcp')}"`)

  // The SDK itself, pointed at B with A's grant: B's 401 makes it refresh for resource B, which
  // Stamp refuses with invalid_target (the grant was for A, RFC 8707 §2.2).
  const grantFor = provider.saved.length
  const toB = new StreamableHTTPClientTransport(new URL(b), { authProvider: provider })
  await t.rejects(new Client({ name: 'sdk-test', version: '1.0.0' }).connect(toB), { name: 'InvalidTargetError' })
  t.equal(provider.saved.length, grantFor, 'no token for B was issued from A\'s grant')
  return { client: provider.client! }
}

t.test('the SDK client registers through a client ID metadata document', async (t) => {
  const env = await setup(t)
  const clientId = `https://${AGENT_HOST}:${env.documents.port}/oauth/client.json`
  const provider = new TestProvider(clientId)
  env.documents.routes.set('/oauth/client.json', json({ client_id: clientId, ...provider.clientMetadata }))
  const { client } = await journey(t, env, provider)
  t.equal(client.client_id, clientId, 'the document URL is the client_id (no registration call)')
  t.ok((env.documents.hits.get('/oauth/client.json') ?? 0) >= 1, 'Stamp fetched the document')
  t.equal((await env.stamp.clientStore.find(clientId))?.origin, 'cimd')
})

t.test('the SDK client registers dynamically (RFC 7591) when it has no document', async (t) => {
  const env = await setup(t)
  const provider = new TestProvider()
  const { client } = await journey(t, env, provider)
  t.ok(client.client_id && !client.client_id.startsWith('https://'), 'a client_id issued by /register')
  t.equal((await env.stamp.clientStore.find(client.client_id))?.origin, 'dcr')
})
