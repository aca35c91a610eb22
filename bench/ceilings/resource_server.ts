/**
 * A resource server as Stamp's users would write one: Fastify with the `stamp-verifier/fastify`
 * plugin (DPoP on) guarding one route, in its own process, so the bench's load generator does not
 * share its event loop. Arguments: issuer, audience, public URL (the `htu` proofs are made for).
 * Listens on an ephemeral loopback port and prints `{"port":N}` once ready.
 *
 * @module
 */
import Fastify from 'fastify'
import stampAuth from 'stamp-verifier/fastify'

const [issuer, audience, publicURL] = process.argv.slice(2)
const app = Fastify({ logger: false })
await app.register(stampAuth, { issuer, audience, publicURL, dpop: true })
app.get('/orders', { preHandler: app.requireScope('orders:read') }, async (request) => ({ owner: request.auth!.sub, orders: [] }))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n')
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
