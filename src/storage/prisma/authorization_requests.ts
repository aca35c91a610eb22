/** Pending authorization requests (login and consent in progress) on Prisma. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { PendingAuthorizationStore } from '../types.js'

export function prismaPendingAuthorizationStore (prisma: PrismaClient): PendingAuthorizationStore {
  return {
    async create (request, { keepPerBrowser }) {
      await prisma.$transaction([
        prisma.authorizationRequest.create({ data: request }),
        // Uses the (browser_hash, created_at) index; the new row is excluded, so it is never the one dropped.
        prisma.$executeRaw`
          DELETE FROM authorization_requests WHERE id IN (
            SELECT id FROM authorization_requests
            WHERE browser_hash = ${request.browserHash} AND id <> ${request.id}
            ORDER BY created_at DESC, id
            OFFSET ${Math.max(0, keepPerBrowser - 1)}
          )`,
      ])
    },
    find: (id, now) => prisma.authorizationRequest.findFirst({ where: { id, expiresAt: { gt: now } } }),
    async firstFactor (id, userId, amr) {
      await prisma.authorizationRequest.updateMany({ where: { id }, data: { factorUserId: userId, factorAmr: amr } })
    },
    async authenticated (id, sessionId) {
      await prisma.authorizationRequest.updateMany({ where: { id }, data: { sessionId } })
    },
    async rebind (browserHash, newBrowserHash) {
      await prisma.authorizationRequest.updateMany({ where: { browserHash }, data: { browserHash: newBrowserHash } })
    },
    async take (id) {
      const { count } = await prisma.authorizationRequest.deleteMany({ where: { id } })
      return count === 1
    },
  }
}
