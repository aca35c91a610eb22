/**
 * RFC 8628 device authorizations on Prisma. Deciding and polling are single conditional
 * statements, so two approvals, or two polls racing for one approval, cannot both win.
 *
 * @module
 */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { DeviceAuthorizationRecord, DeviceAuthorizationStatus, DeviceAuthorizationStore } from '../types.js'

interface Row {
  id: string
  device_code_hash: string
  user_code_hash: string
  client_id: string
  scope: string
  audience: string[]
  status: string
  interval: number
  last_polled_at: Date | null
  user_id: string | null
  session_id: string | null
  auth_time: Date | null
  decided_at: Date | null
  expires_at: Date
}

function record (row: Row): DeviceAuthorizationRecord {
  return {
    id: row.id,
    deviceCodeHash: row.device_code_hash,
    userCodeHash: row.user_code_hash,
    clientId: row.client_id,
    scope: row.scope,
    audience: row.audience ?? [],
    status: row.status as DeviceAuthorizationStatus,
    interval: row.interval,
    lastPolledAt: row.last_polled_at,
    userId: row.user_id,
    sessionId: row.session_id,
    authTime: row.auth_time,
    decidedAt: row.decided_at,
    expiresAt: row.expires_at,
  }
}

const COLUMNS = 'id, device_code_hash, user_code_hash, client_id, scope, audience, status, "interval", last_polled_at, user_id::text AS user_id, session_id, auth_time, decided_at, expires_at'

export function prismaDeviceAuthorizationStore (prisma: PrismaClient): DeviceAuthorizationStore {
  const one = (rows: Row[]) => rows.length ? record(rows[0]) : null
  return {
    async create (r) {
      // ON CONFLICT without a target: a clash on either unique code is "draw again", never a 500.
      const inserted = await prisma.$executeRaw`
        INSERT INTO device_authorizations (id, device_code_hash, user_code_hash, client_id, scope, audience, "interval", expires_at)
        VALUES (${r.id}, ${r.deviceCodeHash}, ${r.userCodeHash}, ${r.clientId}, ${r.scope}, ${r.audience}, ${r.interval}, ${r.expiresAt})
        ON CONFLICT DO NOTHING`
      return inserted === 1
    },
    async find (id) {
      return one(await prisma.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM device_authorizations WHERE id = $1`, id))
    },
    async findByUserCodeHash (hash) {
      return one(await prisma.$queryRawUnsafe<Row[]>(`SELECT ${COLUMNS} FROM device_authorizations WHERE user_code_hash = $1`, hash))
    },
    async decide (id, decision, now) {
      const rows = decision.approved
        ? await prisma.$queryRawUnsafe<Row[]>(
          `UPDATE device_authorizations SET status = 'approved', user_id = $2::uuid, session_id = $3, auth_time = $4, scope = $5, decided_at = $6
           WHERE id = $1 AND status = 'pending' AND expires_at > $6 RETURNING ${COLUMNS}`,
          id, decision.userId, decision.sessionId, decision.authTime, decision.scope, now)
        : await prisma.$queryRawUnsafe<Row[]>(
          `UPDATE device_authorizations SET status = 'denied', user_id = $2::uuid, decided_at = $3
           WHERE id = $1 AND status = 'pending' AND expires_at > $3 RETURNING ${COLUMNS}`,
          id, decision.userId, now)
      return one(rows)
    },
    async poll (deviceCodeHash, clientId, now, toleranceMs) {
      // The CTE locks the row (FOR UPDATE re-reads it after a concurrent poll committed), so the
      // UPDATE sees exactly the state it replaces, and RETURNING reports both.
      const rows = await prisma.$queryRawUnsafe<Array<Row & { previous_status: string, too_fast: boolean }>>(
        `WITH prev AS (
           SELECT id, status, expires_at,
             (last_polled_at IS NOT NULL AND last_polled_at > $2::timestamptz - ("interval" * 1000 - $3) * interval '1 millisecond') AS too_fast
           FROM device_authorizations WHERE device_code_hash = $1 AND client_id = $4 FOR UPDATE
         )
         UPDATE device_authorizations d SET
           last_polled_at = $2,
           "interval" = CASE WHEN prev.too_fast AND prev.status IN ('pending', 'approved') THEN d."interval" + 5 ELSE d."interval" END,
           status = CASE WHEN prev.status = 'approved' AND NOT prev.too_fast AND prev.expires_at > $2 THEN 'consumed' ELSE d.status END
         FROM prev WHERE d.id = prev.id
         RETURNING ${COLUMNS.split(', ').map((c) => c.startsWith('user_id') ? 'd.user_id::text AS user_id' : 'd.' + c).join(', ')}, prev.status AS previous_status, prev.too_fast`,
        deviceCodeHash, now, toleranceMs, clientId)
      if (!rows.length) return null
      return { record: record(rows[0]), previousStatus: rows[0].previous_status as DeviceAuthorizationStatus, tooFast: rows[0].too_fast }
    },
  }
}
