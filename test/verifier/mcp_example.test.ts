/**
 * examples/mcp-server over raw HTTP with real Stamp tokens: which JSON-RPC messages need which
 * scope (batches included), what the endpoint answers for other methods and for malformed JSON,
 * and that the tools see the caller. The SDK's own client drives it in test/interop/mcp_sdk.test.ts.
 *
 * @module
 */
import t from 'tap'
import { createServer } from 'node:http'
import { startStamp } from '../fixtures/stamp_server.js'
// @ts-expect-error the example is plain JavaScript without declarations
import { buildMcpApp, scopesFor } from '../../examples/mcp-server/app.js'

const call = (name: string, id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: name === 'add_note' ? { text: 'tea' } : {} } })

t.test('scopesFor: a tools/call needs its tool\'s scope, anything else none', async (t) => {
  t.same(scopesFor(call('list_notes')), ['mcp:tools.read'])
  t.same(scopesFor(call('add_note')), ['mcp:tools.write'])
  t.same(scopesFor({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }), [])
  t.same(scopesFor({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), [])
  t.same(scopesFor([call('list_notes', 1), call('add_note', 2)]).sort(), ['mcp:tools.read', 'mcp:tools.write'], 'a batch needs every scope')
  t.same(scopesFor(call('no_such_tool')), [], 'unknown tools are the SDK\'s to refuse')
  t.same(scopesFor(undefined), [])
  t.same(scopesFor('garbage'), [])
})

t.test('the example endpoint', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const resource = `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`
  const stamp = await startStamp(t)
  const { app } = buildMcpApp({ issuer: stamp.issuer, resource })
  server.on('request', app)
  const caller = await stamp.client({ scopes: ['mcp:tools.read', 'mcp:tools.write'], audiences: [resource] })
  const reader = await stamp.accessToken(caller, { resource, scope: 'mcp:tools.read' })
  const writer = await stamp.accessToken(caller, { resource, scope: 'mcp:tools.read mcp:tools.write' })
  const post = (token: string | undefined, body: unknown) => fetch(resource, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

  const anonymous = await post(undefined, call('add_note'))
  t.equal(anonymous.status, 401)
  t.match(anonymous.headers.get('www-authenticate'), /^Bearer scope="mcp:tools.write", resource_metadata="/, 'the 401 names the tool\'s scope')

  const batch = await post(reader, [call('list_notes', 1), call('add_note', 2)])
  t.equal(batch.status, 403, 'a batch cannot smuggle a write past the check')
  t.match(batch.headers.get('www-authenticate'), /scope="mcp:tools.read mcp:tools.write"/)

  const added = await post(writer, call('add_note'))
  t.equal(added.status, 200)
  t.match(await added.json(), { result: { content: [{ type: 'text', text: 'saved note 1' }] } })
  const listed = await post(writer, call('list_notes'))
  t.match(await listed.json(), { result: { content: [{ type: 'text', text: '["tea"]' }] } }, 'the note is kept for this caller (sub)')
  const otherCaller = await stamp.client({ scopes: ['mcp:tools.read'], audiences: [resource] })
  const theirs = await post(await stamp.accessToken(otherCaller, { resource, scope: 'mcp:tools.read' }), call('list_notes'))
  t.match(await theirs.json(), { result: { content: [{ type: 'text', text: '[]' }] } }, 'another caller sees none of them')

  const malformed = await post(reader, '{"jsonrpc":')
  t.equal(malformed.status, 400)
  t.same(await malformed.json(), { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null })
  const get = await fetch(resource, { headers: { authorization: `Bearer ${reader}` } })
  t.equal(get.status, 405, 'stateless: no GET stream')
  t.equal(get.headers.get('allow'), 'POST')
})
