/**
 * SSO session repository on Prisma. Ending a session and revoking the refresh-token families bound
 * to it happen in one transaction, and only once: a second logout finds the session ended. The
 * refresh statement refuses a token of an ended session and holds the session row FOR KEY SHARE,
 * which the FOR UPDATE here waits for: once `end` has the lock, no rotation of the session is in
 * flight and none can start before the commit, so one revoking statement reaches every family.
 *
 * @module
 */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { SessionStore } from '../types.js'

export function prismaSessionStore (prisma: PrismaClient): SessionStore {
  return {
    create: (session) => prisma.session.create({ data: session }),

    findActiveByTokenHash: (tokenHash, now) =>
      prisma.session.findFirst({ where: { tokenHash, endedAt: null, expiresAt: { gt: now } } }),

    find: (id) => prisma.session.findUnique({ where: { id } }),

    listActiveForUser: (userId, { limit, cursor }, now) =>
      prisma.session.findMany({
        where: { userId, endedAt: null, expiresAt: { gt: now }, ...(cursor !== undefined ? { id: { gt: cursor } } : {}) },
        orderBy: { id: 'asc' },
        take: limit,
      }),

    listActive: ({ limit, cursor }, now) =>
      prisma.session.findMany({
        where: { endedAt: null, expiresAt: { gt: now }, ...(cursor !== undefined ? { id: { gt: cursor } } : {}) },
        orderBy: { id: 'asc' },
        take: limit,
      }),

    countActive: (now) => prisma.session.count({ where: { endedAt: null, expiresAt: { gt: now } } }),

    async reauthenticate (id, tokenHash, authTime, amr, acr) {
      await prisma.session.update({ where: { id }, data: { tokenHash, authTime, amr, acr } })
    },

    async hasEnded (id) {
      // FOR SHARE waits for an `end` that has locked the row, and makes a later `end` wait for us.
      const rows = await prisma.$queryRaw<Array<{ ended: boolean }>>`
        SELECT ended_at IS NOT NULL AS ended FROM sessions WHERE id = ${id} FOR SHARE`
      return rows.length === 0 || rows[0].ended
    },

    async addClient (id, clientId) {
      // One statement, so concurrent code issuance for two clients cannot lose either.
      await prisma.$executeRaw`
        UPDATE sessions SET client_ids = array_append(client_ids, ${clientId})
        WHERE id = ${id} AND NOT (${clientId} = ANY (client_ids))`
    },

    async end (id, now) {
      return prisma.$transaction(async (tx) => {
        // FOR UPDATE (not the UPDATE's weaker lock): it conflicts with the refresh statement's FOR KEY SHARE.
        const locked = await tx.$queryRaw<Array<{ ended: boolean }>>`
          SELECT ended_at IS NOT NULL AS ended FROM sessions WHERE id = ${id} FOR UPDATE`
        if (locked.length !== 1 || locked[0].ended) return null
        const session = await tx.session.update({ where: { id }, data: { endedAt: now } })
        // A statement of its own, after the lock: its snapshot sees what rotations in flight committed.
        const refreshFamiliesRevoked = await tx.$executeRaw`
          UPDATE refresh_tokens SET revoked_at = ${now}
          WHERE revoked_at IS NULL
            AND family_id IN (SELECT family_id FROM refresh_tokens WHERE session_id = ${id})`
        return { session, refreshFamiliesRevoked }
      })
    },
  }
}
