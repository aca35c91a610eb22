/**
 * Starts the orders service: `STAMP_ISSUER=http://localhost:4000 node examples/orders-service/server.js`.
 *
 * @module
 */
import { buildOrdersService } from './app.js'

const issuer = process.env.STAMP_ISSUER
if (!issuer) {
  console.error('set STAMP_ISSUER to the Stamp issuer URL, e.g. STAMP_ISSUER=http://localhost:4000')
  process.exit(1)
}
const app = await buildOrdersService({
  issuer,
  audience: process.env.ORDERS_AUDIENCE ?? 'https://orders.example',
  logger: { level: process.env.LOG_LEVEL ?? 'info' },
})
await app.listen({ port: Number(process.env.PORT ?? 4100), host: process.env.HOST ?? '127.0.0.1' })
