/**
 * Raw ceiling: a bare Fastify app (no logger, no plugins) answering a small JSON document, in its
 * own process. Listens on an ephemeral loopback port and prints `{"port":N}` once ready.
 *
 * @module
 */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ keys: [{ kty: 'RSA', kid: 'bench', use: 'sig', alg: 'RS256' }] }))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n')
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
