/** RFC 9126 pushed authorization requests on PostgreSQL. @module */
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js'
import type { PushedAuthorizationStore } from '../types.js'

export function prismaPushedAuthorizationStore (prisma: PrismaClient): PushedAuthorizationStore {
  return {
    async create ({ id, clientId, parameters, expiresAt }) {
      await prisma.pushedAuthorizationRequest.create({ data: { id, clientId, parameters: parameters as Prisma.InputJsonValue, expiresAt } })
    },
    async consume (id, clientId, now) {
      // One statement: of two concurrent uses of the same request_uri only one deletes the row.
      // An expired row is left for retention and refused here.
      const rows = await prisma.$queryRaw<Array<{ parameters: Record<string, string[]> }>>`
        DELETE FROM pushed_authorization_requests
        WHERE id = ${id} AND client_id = ${clientId} AND expires_at > ${now}
        RETURNING parameters`
      return rows[0]?.parameters ?? null
    },
  }
}
