/**
 * Admin API: counts for an overview (users, clients per origin, live sessions, keys per state),
 * each one COUNT query, so a dashboard never walks a list. The admin console's first page.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { Overview, errorResponses } from '../../schemas/admin.js'

export default async function overviewRoutes (app: FastifyInstance): Promise<void> {
  app.get('/overview', {
    schema: { tags: ['overview'], security: [{ bearerAuth: [] }], summary: 'Counts of users, clients, live sessions and signing keys', response: { 200: Overview, ...errorResponses } },
  }, async () => {
    const now = new Date()
    const [users, clients, activeSessions, keys] = await Promise.all([
      app.usersRepository.count(), app.clientStore.countByOrigin(), app.sessions.countActive(now), app.keyStore.all(),
    ])
    const byStatus = { next: 0, active: 0, retiring: 0, retired: 0, revoked: 0 }
    for (const key of keys) if (key.status in byStatus) byStatus[key.status as keyof typeof byStatus]++
    return { users, clients, active_sessions: activeSessions, keys: byStatus }
  })
}
