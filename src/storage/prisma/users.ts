/** User repository on Prisma. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { UserStore } from '../types.js'

const fields = { id: true, username: true, email: true, passwordHash: true, disabled: true, scopes: true } as const

export function prismaUserStore (prisma: PrismaClient): UserStore {
  return {
    findByUsername: (username) => prisma.user.findUnique({ where: { username }, select: fields }),
    findById: (id) => prisma.user.findUnique({ where: { id }, select: fields }),
    create: (user) => prisma.user.create({ data: user, select: fields }),
    async updatePasswordHash (id, passwordHash) {
      await prisma.user.update({ where: { id }, data: { passwordHash } })
    },
    list: ({ limit, cursor }) => prisma.user.findMany({
      where: cursor === undefined ? {} : { username: { gt: cursor } }, orderBy: { username: 'asc' }, take: limit, select: fields,
    }),
    async update (id, patch) {
      const { count } = await prisma.user.updateMany({ where: { id }, data: patch })
      return count ? prisma.user.findUnique({ where: { id }, select: fields }) : null
    },
  }
}
