/** Client repository on Prisma. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { ClientRecord, ClientStore } from '../types.js'

export function prismaClientStore (prisma: PrismaClient): ClientStore {
  return {
    async find (id) {
      return prisma.client.findUnique({ where: { id } })
    },
    async create (client: ClientRecord) {
      await prisma.client.create({ data: client })
    },
    async list ({ limit, cursor }) {
      return prisma.client.findMany({ where: cursor === undefined ? {} : { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: limit })
    },
    async update (id, patch) {
      const { count } = await prisma.client.updateMany({ where: { id }, data: patch })
      return count ? prisma.client.findUnique({ where: { id } }) : null
    },
    async delete (id) {
      const { count } = await prisma.client.deleteMany({ where: { id } })
      return count > 0
    },
  }
}
