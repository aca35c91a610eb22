/** Pending authorization requests (login and consent in progress) on Prisma. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { PendingAuthorizationStore } from '../types.js'

export function prismaPendingAuthorizationStore (prisma: PrismaClient): PendingAuthorizationStore {
  return {
    async create (request) {
      await prisma.authorizationRequest.create({ data: request })
    },
    find: (id, now) => prisma.authorizationRequest.findFirst({ where: { id, expiresAt: { gt: now } } }),
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
    async purgeExpired (now) {
      const { count } = await prisma.authorizationRequest.deleteMany({ where: { expiresAt: { lte: now } } })
      return count
    },
  }
}
