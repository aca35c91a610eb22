/** Audit-event repository on Prisma: append and read, never update. @module */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { AuditEventRecord, AuditStore } from '../types.js'

export function prismaAuditStore (prisma: PrismaClient, pool: pg.Pool): AuditStore {
  return {
    async append (event) {
      // Every login appends one: a named statement on pg (see createPool) instead of Prisma's create.
      await pool.query({
        name: 'stamp_audit_append',
        text: 'INSERT INTO audit_events (type, actor, subject, client_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
        values: [event.type, event.actor ?? null, event.subject ?? null, event.clientId ?? null, event.ip ?? null,
          event.detail === undefined || event.detail === null ? null : JSON.stringify(event.detail)],
      })
    },
    async list ({ limit, cursor, type, actor, subject, since, until }) {
      const createdAt = { ...(since ? { gte: since } : {}), ...(until ? { lt: until } : {}) }
      const rows = await prisma.auditEvent.findMany({
        where: {
          ...(cursor === undefined ? {} : { id: { lt: BigInt(cursor) } }),
          ...(type === undefined ? {} : { type }),
          ...(actor === undefined ? {} : { actor }),
          ...(subject === undefined ? {} : { subject }),
          ...(since || until ? { createdAt } : {}),
        },
        orderBy: { id: 'desc' },
        take: limit,
      })
      return rows.map((row): AuditEventRecord => ({ ...row, id: row.id.toString(), detail: row.detail as Record<string, unknown> | null }))
    },
  }
}
