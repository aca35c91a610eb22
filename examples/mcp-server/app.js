/**
 * An MCP server (the official `@modelcontextprotocol/sdk`, Streamable HTTP, stateless) whose two
 * tools need one scope each, protected by Stamp access tokens through `stamp-verifier/http`:
 *
 * - `GET /.well-known/oauth-protected-resource/mcp`: RFC 9728 metadata naming Stamp, which is how
 *   an MCP client that knows only `…/mcp` finds the authorization server;
 * - `POST /mcp` without a valid token: 401 `WWW-Authenticate: Bearer resource_metadata="…"`;
 * - a `tools/call` for a tool whose scope the token lacks: 403 `insufficient_scope` naming it
 *   (the client can step up), before the request reaches the MCP server;
 * - tokens must carry this server's canonical URI as audience (RFC 8707): a token Stamp issued for
 *   another MCP server is refused.
 *
 * @module
 */
import express from 'express'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { bearerAuth } from 'stamp-verifier/http'
import { z } from 'zod'

export const READ_SCOPE = 'mcp:tools.read'
export const WRITE_SCOPE = 'mcp:tools.write'

/** Tool name → the scope a call needs. */
const TOOL_SCOPES = { list_notes: READ_SCOPE, add_note: WRITE_SCOPE }

/**
 * The scopes a JSON-RPC message (or batch) needs: a `tools/call` needs its tool's scope; anything
 * else (initialize, tools/list, …) only a valid token.
 */
export function scopesFor (body) {
  const scopes = new Set()
  for (const message of Array.isArray(body) ? body : [body]) {
    if (message?.method === 'tools/call') {
      const scope = TOOL_SCOPES[message.params?.name]
      if (scope) scopes.add(scope)
    }
  }
  return [...scopes]
}

/** A fresh MCP server with the two tools; notes are kept per user (the token's `sub`). */
function mcpServer (notes) {
  const server = new McpServer({ name: 'stamp-notes', version: '1.0.0' })
  const owner = (extra) => extra.authInfo.extra.sub
  server.registerTool('list_notes', {
    title: 'List notes',
    description: `Lists your notes (needs ${READ_SCOPE}).`,
    inputSchema: {},
  }, async (_args, extra) => {
    const mine = notes.get(owner(extra)) ?? []
    return { content: [{ type: 'text', text: JSON.stringify(mine) }] }
  })
  server.registerTool('add_note', {
    title: 'Add a note',
    description: `Adds a note (needs ${WRITE_SCOPE}).`,
    inputSchema: { text: z.string().min(1).max(500) },
  }, async ({ text }, extra) => {
    const mine = notes.get(owner(extra)) ?? []
    mine.push(text)
    notes.set(owner(extra), mine)
    return { content: [{ type: 'text', text: `saved note ${mine.length}` }] }
  })
  return server
}

/**
 * Builds the Express app.
 *
 * @param {{ issuer: string, resource: string, verifier?: import('stamp-verifier').Verifier }} options
 *   `resource` is this server's canonical URI, e.g. `https://mcp.example.com/mcp`; its path is where
 *   the MCP endpoint is mounted.
 */
export function buildMcpApp ({ issuer, resource, ...rest }) {
  const auth = bearerAuth({ issuer, resource, scopesSupported: [READ_SCOPE, WRITE_SCOPE], resourceName: 'Stamp notes (MCP example)', ...rest })
  const endpoint = new URL(auth.metadata.resource).pathname
  const notes = new Map()
  const app = express()
  app.disable('x-powered-by')
  app.use(auth.metadataMiddleware())

  app.post(endpoint, express.json({ limit: '100kb' }), async (req, res, next) => {
    try {
      const claims = await auth.authorize(req, res, scopesFor(req.body))
      if (!claims) return // 401/403 answered, with the challenge
      // The SDK hands `req.auth` (its AuthInfo shape) to the tools as `extra.authInfo`.
      req.auth = {
        token: req.headers.authorization.slice(7).trim(),
        clientId: claims.client_id,
        scopes: (claims.scope ?? '').split(' ').filter(Boolean),
        expiresAt: claims.exp,
        resource: new URL(auth.metadata.resource),
        extra: { sub: claims.sub },
      }
      // Stateless Streamable HTTP: one server and transport per request.
      const server = mcpServer(notes)
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
      res.on('close', () => { transport.close(); server.close() })
      await server.connect(transport)
      await transport.handleRequest(req, res, req.body)
    } catch (err) {
      next(err)
    }
  })
  // Stateless: no server-initiated stream, no session to delete (MCP Streamable HTTP).
  app.all(endpoint, (_req, res) => {
    res.set('allow', 'POST').status(405).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null })
  })
  // Malformed JSON and the like: a JSON-RPC parse error, never a stack trace.
  app.use((err, _req, res, _next) => {
    const status = err.status ?? err.statusCode ?? 500
    if (!res.headersSent) res.status(status >= 400 && status < 500 ? status : 500).json({ jsonrpc: '2.0', error: { code: -32700, message: status < 500 ? 'Parse error' : 'Internal error' }, id: null })
  })
  return { app, auth }
}
