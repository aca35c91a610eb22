/**
 * Admin API: the audit trail, newest first (`?type=` filters by event type).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { AuditPage, AuditQuery, errorResponses, type AuditQuery as AuditInput } from '../../schemas/admin.js'
import { auditView, paged } from './views.js'

export default async function auditRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: AuditInput }>('/audit-events', {
    schema: { tags: ['audit'], security: [{ bearerAuth: [] }], summary: 'Security events, newest first', querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor, type } = request.query
    return paged(await app.auditStore.list({ limit, cursor, type }), limit, (e) => e.id, auditView)
  })
}
