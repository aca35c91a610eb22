/**
 * Admin API: the audit trail, newest first, filtered by `type`, `actor`, `subject` and a time
 * range (`since` inclusive, `until` exclusive); `cursor` pages on (the last id seen).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidRequest } from '../../errors.js'
import { AuditPage, AuditQuery, errorResponses, type AuditQuery as AuditInput } from '../../schemas/admin.js'
import { auditView, paged } from './views.js'

/** A date-time the pattern let through but the calendar does not know (2026-02-31) is refused. */
function instant (value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) throw new InvalidRequest(`${name} is not a valid date-time`)
  return date
}

export default async function auditRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: AuditInput }>('/audit-events', {
    schema: { tags: ['audit'], security: [{ bearerAuth: [] }], summary: 'Security events, newest first; filter by type, actor, subject and time', querystring: AuditQuery, response: { 200: AuditPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor, type, actor, subject } = request.query
    const since = instant(request.query.since, 'since')
    const until = instant(request.query.until, 'until')
    return paged(await app.auditStore.list({ limit, cursor, type, actor, subject, since, until }), limit, (e) => e.id, auditView)
  })
}
