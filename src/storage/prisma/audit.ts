/** Audit-event repository on Prisma: append and read, never update. @module */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { AuditEventInput, AuditEventRecord, AuditStore } from '../types.js'

/**
 * Audit events appended by another statement (a CTE named `events`), from a JSON array in
 * parameter `param` ({@link eventRows}), in order: one round trip for the write and its events.
 * `when`: a condition (on the statement's other CTEs) without which none is appended.
 */
export const APPEND_EVENTS = (param: string, when?: string) => `events AS (
    INSERT INTO audit_events (type, actor, subject, client_id, ip, detail)
    SELECT e->>'type', e->>'actor', e->>'subject', e->>'client_id', e->>'ip', NULLIF(e->'detail', 'null'::jsonb)
    FROM jsonb_array_elements(${param}::jsonb) WITH ORDINALITY AS a(e, n)${when ? `
    WHERE ${when}` : ''}
    ORDER BY a.n)`

/** The JSON parameter of {@link APPEND_EVENTS}. */
export function eventRows (events: readonly AuditEventInput[]): string {
  return JSON.stringify(events.map((e) => ({ type: e.type, actor: e.actor ?? null, subject: e.subject ?? null, client_id: e.clientId ?? null, ip: e.ip ?? null, detail: e.detail ?? null })))
}

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
