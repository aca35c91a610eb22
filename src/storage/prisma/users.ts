/** User repository on Prisma. @module */
import type pg from 'pg'
import { literal } from './search.js'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { UserRecord, UserStore, UsernameForms } from '../types.js'
import { isUUID } from '../../ids.js'

export const USER_FIELDS = {
  id: true, username: true, email: true, passwordHash: true, disabled: true, scopes: true, emailVerifiedAt: true, verificationPending: true, mfaRequired: true,
} as const
const fields = USER_FIELDS
/** USER_FIELDS as SQL, for the statements on the pg pool. */
const USER_SQL_COLUMNS: Array<[column: string, field: keyof typeof USER_FIELDS]> = [
  ['id', 'id'], ['username', 'username'], ['email', 'email'], ['password_hash', 'passwordHash'], ['disabled', 'disabled'], ['scopes', 'scopes'],
  ['email_verified_at', 'emailVerifiedAt'], ['verification_pending', 'verificationPending'], ['mfa_required', 'mfaRequired'],
]
/**
 * USER_FIELDS as SQL columns of table alias `table`, each named `as` + its field (a joined read
 * keeps the user's columns apart from the other table's, storage/prisma/authorization_requests.ts).
 */
export const userColumns = (table: string, as = ''): string =>
  USER_SQL_COLUMNS.map(([column, field]) => `${table}.${column} AS "${as}${field}"`).join(', ')
const COLUMNS = userColumns('users')

/** `forms` says how usernames compare (domain/usernames.ts); storage only applies it. */
export function prismaUserStore (prisma: PrismaClient, pool: pg.Pool, forms: UsernameForms): UserStore {
  return {
    // Every login starts here: a named statement on pg (see createPool) instead of Prisma's findUnique.
    // By the comparison key; a legacy row left without one (its key was taken) by its exact name,
    // which then wins over the key's holder.
    async findByUsername (username) {
      const { rows } = await pool.query<UserRecord>({
        name: 'stamp_user_by_username_key_v3',
        text: `SELECT ${COLUMNS} FROM users WHERE username_key = $1 OR (username_key IS NULL AND username = $2) ORDER BY (username = $2) DESC LIMIT 1`,
        values: [forms.key(username), username],
      })
      return rows[0] ?? null
    },
    // Every step of a sign-in and every session lookup reads the user by id: a named statement too.
    // Not a UUID: no such user (Prisma's query would fail on the cast instead).
    async findById (id) {
      if (!isUUID(id)) return null
      const { rows } = await pool.query<UserRecord>({ name: 'stamp_user_by_id', text: `SELECT ${COLUMNS} FROM users WHERE id = $1::uuid`, values: [id] })
      return rows[0] ?? null
    },
    create: (user) => prisma.user.create({ data: { ...user, username: forms.display(user.username), usernameKey: forms.key(user.username) }, select: fields }),
    // `username_key IS NULL` is answered by the unique index (B-tree indexes hold NULLs): no scan.
    async keyUnkeyedUsernames () {
      const rows = await prisma.user.findMany({ where: { usernameKey: null }, select: { id: true, username: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
      const clashes: string[] = []
      let keyed = 0
      for (const row of rows) {
        const key = forms.key(row.username)
        try {
          const { count } = await prisma.user.updateMany({ where: { id: row.id, usernameKey: null }, data: { usernameKey: key } })
          keyed += count
        } catch (err) {
          // Another user already holds this key: this one keeps signing in by its exact name.
          if ((err as { code?: string }).code !== 'P2002') throw err
          clashes.push(row.id)
        }
      }
      return { keyed, clashes }
    },
    async updatePasswordHash (id, passwordHash) {
      await prisma.user.update({ where: { id }, data: { passwordHash } })
    },
    findByEmail: (email) => prisma.user.findMany({ where: { email: { equals: email, mode: 'insensitive' } }, select: fields, orderBy: { createdAt: 'asc' }, take: 10 }),
    // A search compares lower-case forms with LIKE (its own comparison key for the username),
    // which a 10,000-user scan does several times faster than ILIKE on the display forms.
    async list ({ limit, cursor, query }) {
      if (query === undefined) {
        return prisma.user.findMany({ where: cursor === undefined ? {} : { username: { gt: cursor } }, orderBy: { username: 'asc' }, take: limit, select: fields })
      }
      const { rows } = await pool.query<UserRecord>({
        text: `SELECT id, username, email, password_hash AS "passwordHash", disabled, scopes, email_verified_at AS "emailVerifiedAt", verification_pending AS "verificationPending", mfa_required AS "mfaRequired" FROM users
          WHERE (COALESCE(username_key, lower(username)) LIKE $1 OR lower(email) LIKE $2) AND ($3::text IS NULL OR username > $3)
          ORDER BY username LIMIT $4`,
        values: [`%${literal(forms.key(query))}%`, `%${literal(query.toLowerCase())}%`, cursor ?? null, limit],
      })
      return rows
    },
    async count () {
      const [total, disabled] = await Promise.all([prisma.user.count(), prisma.user.count({ where: { disabled: true } })])
      return { total, disabled }
    },
    async update (id, patch) {
      // A new address is not proven: its verification goes (one statement, so no race with a reset).
      if (patch.email !== undefined) {
        const { count } = await prisma.user.updateMany({ where: { id, OR: [{ email: null }, { NOT: { email: patch.email ?? '' } }] }, data: { ...patch, emailVerifiedAt: null } })
        if (count) return prisma.user.findUnique({ where: { id }, select: fields })
      }
      const { count } = await prisma.user.updateMany({ where: { id }, data: patch })
      return count ? prisma.user.findUnique({ where: { id }, select: fields }) : null
    },
  }
}
