/** Audit-event repository on Prisma: append and read, never update. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { AuditEventRecord, AuditStore } from '../types.js'

export function prismaAuditStore (prisma: PrismaClient): AuditStore {
  return {
    async append (event) {
      await prisma.auditEvent.create({
        data: {
          type: event.type,
          actor: event.actor ?? null,
          subject: event.subject ?? null,
          clientId: event.clientId ?? null,
          ip: event.ip ?? null,
          detail: (event.detail ?? undefined) as object | undefined,
        },
      })
    },
    async list ({ limit, cursor, type }) {
      const rows = await prisma.auditEvent.findMany({
        where: { ...(cursor === undefined ? {} : { id: { lt: BigInt(cursor) } }), ...(type === undefined ? {} : { type }) },
        orderBy: { id: 'desc' },
        take: limit,
      })
      return rows.map((row): AuditEventRecord => ({ ...row, id: row.id.toString(), detail: row.detail as Record<string, unknown> | null }))
    },
  }
}
