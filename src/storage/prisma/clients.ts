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
  }
}
