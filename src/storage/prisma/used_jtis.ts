/** One-time JWT identifiers on PostgreSQL (the used_jtis table). @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { ReplayStore } from '../types.js'

export function prismaReplayStore (prisma: PrismaClient): ReplayStore {
  return {
    async markUsed (namespace, jti, expiresAt, now) {
      // One statement: the primary key makes the second of two concurrent inserts wait and then
      // conflict. A row whose JWT has expired (not yet purged) is taken over, not a replay.
      const rows = await prisma.$queryRaw<Array<{ ok: number }>>`
        INSERT INTO used_jtis (namespace, jti, expires_at) VALUES (${namespace}, ${jti}, ${expiresAt})
        ON CONFLICT (namespace, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
        WHERE used_jtis.expires_at <= ${now}
        RETURNING 1 AS ok`
      return rows.length === 1
    },
  }
}
