/**
 * Starts the MCP server example:
 * `STAMP_ISSUER=http://localhost:4000 node examples/mcp-server/server.js`.
 *
 * @module
 */
import { buildMcpApp } from './app.js'

const issuer = process.env.STAMP_ISSUER
if (!issuer) {
  console.error('set STAMP_ISSUER to the Stamp issuer URL, e.g. STAMP_ISSUER=http://localhost:4000')
  process.exit(1)
}
const port = Number(process.env.PORT ?? 3001)
const host = process.env.HOST ?? '127.0.0.1'
// The canonical URI clients send as `resource`; Stamp's REGISTRATION_AUDIENCES must list it.
const resource = process.env.MCP_RESOURCE ?? `http://${host}:${port}/mcp`
const { app, auth } = buildMcpApp({ issuer, resource })
app.listen(port, host, () => {
  console.log(`MCP server on ${resource} (metadata: ${auth.metadataURL})`)
})
