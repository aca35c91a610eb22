/**
 * Authorization-code repository on Prisma: one-time use is a conditional UPDATE, so the database,
 * not the caller, decides which of two concurrent exchanges wins.
 *
 * @module
 */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { AuthorizationCodeStore } from '../types.js'

export function prismaAuthorizationCodeStore (prisma: PrismaClient): AuthorizationCodeStore {
  return {
    async create (code) {
      await prisma.authorizationCode.create({ data: code })
    },
    find: (codeHash) => prisma.authorizationCode.findUnique({ where: { codeHash } }),
    async consume (codeHash, now) {
      const { count } = await prisma.authorizationCode.updateMany({ where: { codeHash, consumedAt: null }, data: { consumedAt: now } })
      return count === 1
    },
    async markReused (codeHash, now) {
      await prisma.authorizationCode.updateMany({ where: { codeHash, reusedAt: null }, data: { reusedAt: now } })
    },
    async wasReused (codeHash) {
      const row = await prisma.authorizationCode.findUnique({ where: { codeHash }, select: { reusedAt: true } })
      return row?.reusedAt != null
    },
  }
}
