/** Client repository on Prisma. @module */
import { literal } from './search.js'
import type { PrismaClient } from '../../generated/prisma/client.js'
import { Prisma } from '../../generated/prisma/client.js'
import type { ClientOrigin, ClientRecord, ClientStore } from '../types.js'

type Row = Awaited<ReturnType<PrismaClient['client']['findUnique']>>

function record (row: NonNullable<Row>): ClientRecord {
  return { ...row, origin: row.origin as ClientOrigin, metadata: row.metadata as Record<string, unknown> | null, jwks: row.jwks as ClientRecord['jwks'] }
}

function data<T extends Partial<ClientRecord>> (client: T) {
  const { metadata, jwks, ...rest } = client
  return {
    ...rest,
    ...(metadata === undefined ? {} : { metadata: (metadata ?? undefined) as Prisma.InputJsonValue | undefined }),
    // null clears the set (the client moved to jwks_uri).
    ...(jwks === undefined ? {} : { jwks: jwks === null ? Prisma.DbNull : jwks as unknown as Prisma.InputJsonValue }),
  }
}

export function prismaClientStore (prisma: PrismaClient): ClientStore {
  return {
    async find (id) {
      const row = await prisma.client.findUnique({ where: { id } })
      return row ? record(row) : null
    },
    async create (client: ClientRecord) {
      await prisma.client.create({ data: data(client) })
    },
    async list ({ limit, cursor }) {
      const rows = await prisma.client.findMany({ where: cursor === undefined ? {} : { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: limit })
      return rows.map(record)
    },
    async update (id, patch) {
      const { count } = await prisma.client.updateMany({ where: { id }, data: data(patch) })
      if (!count) return null
      const row = await prisma.client.findUnique({ where: { id } })
      return row ? record(row) : null
    },
    async delete (id) {
      const { count } = await prisma.client.deleteMany({ where: { id } })
      return count > 0
    },
    async listByOrigin (origins, { limit, cursor, query }) {
      const rows = await prisma.client.findMany({
        where: {
          ...(origins.length ? { origin: { in: [...origins] } } : {}),
          ...(cursor === undefined ? {} : { id: { gt: cursor } }),
          ...(query === undefined ? {} : { OR: [{ id: { contains: literal(query), mode: 'insensitive' } }, { name: { contains: literal(query), mode: 'insensitive' } }] }),
        },
        orderBy: { id: 'asc' },
        take: limit,
      })
      return rows.map(record)
    },
    async countByOrigin () {
      const groups = await prisma.client.groupBy({ by: ['origin'], _count: { _all: true } })
      const counts = { admin: 0, dcr: 0, cimd: 0 }
      for (const g of groups) counts[g.origin as keyof typeof counts] = g._count._all
      return counts
    },
    async touchLastUsed (id, now, minIntervalMs) {
      // One statement: the row lock serializes concurrent first uses, so exactly one sees NULL.
      const rows = await prisma.$queryRaw<Array<{ previous: Date | null }>>`
        UPDATE clients c SET last_used_at = ${now}
        FROM (SELECT client_id, last_used_at AS previous FROM clients WHERE client_id = ${id} FOR UPDATE) p
        WHERE c.client_id = p.client_id AND (p.previous IS NULL OR p.previous < ${new Date(now.getTime() - minIntervalMs)})
        RETURNING p.previous`
      if (!rows.length) return 'skipped'
      return rows[0].previous === null ? 'first' : 'updated'
    },
    async purgeUnused (origins, before) {
      return prisma.$transaction(async (tx) => {
        const stale = await tx.client.findMany({
          where: {
            origin: { in: [...origins] },
            OR: [{ lastUsedAt: { lt: before } }, { lastUsedAt: null, createdAt: { lt: before } }],
          },
          select: { id: true },
        })
        const ids = stale.map((c) => c.id)
        if (!ids.length) return []
        await tx.refreshToken.updateMany({ where: { clientId: { in: ids }, revokedAt: null }, data: { revokedAt: new Date() } })
        await tx.consent.deleteMany({ where: { clientId: { in: ids } } })
        await tx.client.deleteMany({ where: { id: { in: ids } } })
        return ids
      })
    },
  }
}
