/**
 * The orders service: a resource server protected by Stamp access tokens. Reading orders needs
 * `orders:read`, placing one needs `orders:write`; the token's audience must be this service.
 *
 * @module
 */
import Fastify from 'fastify'
import stampAuth from 'stamp-verifier/fastify'

/**
 * Builds the service (without listening), so tests can build two with different audiences.
 *
 * @param {{ issuer: string, audience?: string, logger?: boolean | object }} options
 */
export async function buildOrdersService ({ issuer, audience = 'https://orders.example', logger = false }) {
  const app = Fastify({ logger })
  await app.register(stampAuth, { issuer, audience, realm: 'orders' })

  // In memory on purpose: the example is about authentication, not storage.
  const orders = []

  app.get('/orders', { preHandler: app.requireScope('orders:read') }, async (request) => {
    return { orders: orders.filter((order) => order.owner === request.auth.sub) }
  })

  app.post('/orders', {
    preHandler: app.requireScope('orders:write'),
    schema: { body: { type: 'object', required: ['item'], properties: { item: { type: 'string', minLength: 1 } } } },
  }, async (request, reply) => {
    const order = { id: orders.length + 1, item: request.body.item, owner: request.auth.sub, client: request.auth.client_id }
    orders.push(order)
    return reply.code(201).send(order)
  })

  return app
}
