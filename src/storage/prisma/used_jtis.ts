/** One-time JWT identifiers on PostgreSQL (the used_jtis table). @module */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { ReplayStore } from '../types.js'

/**
 * One statement: the primary key makes the second of two concurrent inserts wait and then
 * conflict. A row whose JWT has expired (not yet purged) is taken over, not a replay.
 *
 * It is on every private_key_jwt and DPoP request, so it runs on the pg pool under Prisma (a
 * fraction of Prisma's per-query cost), and its commit does not wait for the WAL flush
 * (`synchronous_commit` off for this one transaction): atomicity, and visibility to every
 * instance at commit, are unchanged; only a crash of PostgreSQL itself could forget the last
 * fraction of a second of identifiers, whose JWTs live minutes at most.
 */
const MARK_USED = {
  name: 'used_jtis_mark',
  text: `INSERT INTO used_jtis (namespace, jti, expires_at)
    SELECT $1, $2, $3::timestamptz FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
    ON CONFLICT (namespace, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
    WHERE used_jtis.expires_at <= $4
    RETURNING 1 AS ok`,
}

export function prismaReplayStore (prisma: PrismaClient, pool?: pg.Pool): ReplayStore {
  return {
    async markUsed (namespace, jti, expiresAt, now) {
      if (pool) {
        const { rowCount } = await pool.query({ ...MARK_USED, values: [namespace, jti, expiresAt, now] })
        return rowCount === 1
      }
      const rows = await prisma.$queryRawUnsafe<Array<{ ok: number }>>(MARK_USED.text, namespace, jti, expiresAt, now)
      return rows.length === 1
    },
  }
}
