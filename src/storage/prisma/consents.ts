/** Remembered consent decisions on Prisma. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { ConsentStore } from '../types.js'

export function prismaConsentStore (prisma: PrismaClient): ConsentStore {
  return {
    async granted (userId, clientId) {
      const row = await prisma.consent.findUnique({ where: { userId_clientId: { userId, clientId } }, select: { scopes: true } })
      return row?.scopes ?? []
    },
    async grant (userId, clientId, scopes) {
      // Union with what was approved before, in one statement (no read-modify-write race).
      await prisma.$executeRaw`
        INSERT INTO consents (user_id, client_id, scopes, updated_at)
        VALUES (${userId}::uuid, ${clientId}, ${scopes}::text[], now())
        ON CONFLICT (user_id, client_id) DO UPDATE
        SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1),
            updated_at = now()`
    },
    listForUser: (userId, limit) => prisma.consent.findMany({
      where: { userId }, orderBy: { updatedAt: 'desc' }, take: limit, select: { clientId: true, scopes: true, updatedAt: true },
    }),
    async revoke (userId, clientId) {
      const { count } = await prisma.consent.deleteMany({ where: { userId, clientId } })
      return count === 1
    },
  }
}
