/**
 * Admin API: the effective configuration (every environment setting in force, secrets masked;
 * src/config/effective.ts). Read-only: configuration changes go through the environment.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { EffectiveConfig, errorResponses } from '../../schemas/admin.js'
import { effectiveSettings } from '../../config/effective.js'
import { publicIssuer } from '../../http/public_issuer.js'

export default async function configRoutes (app: FastifyInstance): Promise<void> {
  app.get('/config', {
    schema: { tags: ['configuration'], security: [{ bearerAuth: [] }], summary: 'The effective configuration, secrets masked', response: { 200: EffectiveConfig, ...errorResponses } },
  }, async (request) => ({ issuer: publicIssuer(request), settings: effectiveSettings(app.config) }))
}
