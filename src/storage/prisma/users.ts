/** User repository on Prisma. @module */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { UserRecord, UserStore } from '../types.js'

const fields = { id: true, username: true, email: true, passwordHash: true, disabled: true, scopes: true } as const

export function prismaUserStore (prisma: PrismaClient, pool: pg.Pool): UserStore {
  return {
    // Every login starts here: a named statement on pg (see createPool) instead of Prisma's findUnique.
    async findByUsername (username) {
      const { rows } = await pool.query<UserRecord>({
        name: 'stamp_user_by_username',
        text: 'SELECT id, username, email, password_hash AS "passwordHash", disabled, scopes FROM users WHERE username = $1',
        values: [username],
      })
      return rows[0] ?? null
    },
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
