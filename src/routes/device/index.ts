/**
 * The device authorization grant's surfaces (RFC 8628): the device authorization endpoint and
 * the verification pages at /device.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import deviceAuthorizationRoute from './device_authorization.js'
import deviceVerificationRoutes from './verification.js'

export default async function deviceRoutes (app: FastifyInstance) {
  await app.register(deviceAuthorizationRoute)
  await app.register(deviceVerificationRoutes)
}
