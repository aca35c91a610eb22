/** Mailed single-use links (account_tokens) on Prisma; see AccountTokenStore. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { AccountTokenPurpose, AccountTokenRecord, AccountTokenStore, UsernameForms } from '../types.js'
import { USER_FIELDS } from './users.js'

const TOKEN_FIELDS = {
  id: true, purpose: true, userId: true, email: true, scopes: true, createdBy: true, createdAt: true, expiresAt: true, consumedAt: true, pendingLinkId: true,
} as const

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0]

function record (row: { purpose: string } & Omit<AccountTokenRecord, 'purpose'>): AccountTokenRecord {
  return { ...row, purpose: row.purpose as AccountTokenPurpose }
}

/** Takes the token: one conditional UPDATE, so of two concurrent uses exactly one gets the row. */
async function consume (tx: Tx, tokenHash: string, purpose: AccountTokenPurpose, now: Date): Promise<AccountTokenRecord | null> {
  const { count } = await tx.accountToken.updateMany({
    where: { tokenHash, purpose, consumedAt: null, expiresAt: { gt: now } },
    data: { consumedAt: now },
  })
  if (count !== 1) return null
  const row = await tx.accountToken.findUnique({ where: { tokenHash }, select: TOKEN_FIELDS })
  return row && record(row)
}

class UsernameTaken extends Error {}

export function prismaAccountTokenStore (prisma: PrismaClient, forms: UsernameForms): AccountTokenStore {
  return {
    async create (token) {
      return record(await prisma.accountToken.create({ data: token, select: TOKEN_FIELDS }))
    },
    async findLive (tokenHash, purpose, now) {
      const row = await prisma.accountToken.findFirst({ where: { tokenHash, purpose, consumedAt: null, expiresAt: { gt: now } }, select: TOKEN_FIELDS })
      return row && record(row)
    },
    countSince: (email, purpose, since) => prisma.accountToken.count({ where: { email, purpose, createdAt: { gte: since } } }),
    resetPassword: (tokenHash, passwordHash, now) => prisma.$transaction(async (tx) => {
      const token = await consume(tx, tokenHash, 'reset_password', now)
      if (!token?.userId) return null
      await tx.accountToken.updateMany({ where: { userId: token.userId, purpose: 'reset_password', consumedAt: null }, data: { consumedAt: now } })
      // The link reached the user's current address (or the address changed since: then not).
      await tx.user.updateMany({ where: { id: token.userId, email: { equals: token.email, mode: 'insensitive' } }, data: { emailVerifiedAt: now, verificationPending: false } })
      const { count } = await tx.user.updateMany({ where: { id: token.userId }, data: { passwordHash } })
      return count ? { userId: token.userId } : null
    }),
    verifyEmail: (tokenHash, now) => prisma.$transaction(async (tx) => {
      const token = await consume(tx, tokenHash, 'verify_email', now)
      if (!token?.userId) return null
      const { count } = await tx.user.updateMany({
        where: { id: token.userId, email: { equals: token.email, mode: 'insensitive' } },
        data: { emailVerifiedAt: now, verificationPending: false },
      })
      return count ? { userId: token.userId } : null
    }),
    async redeemInvite (tokenHash, user, now) {
      try {
        return await prisma.$transaction(async (tx) => {
          const invite = await consume(tx, tokenHash, 'invite', now)
          if (!invite) return 'invalid' as const
          const created = await tx.user.create({
            data: {
              username: forms.display(user.username),
              usernameKey: forms.key(user.username),
              email: invite.email,
              passwordHash: user.passwordHash,
              scopes: invite.scopes,
              verificationPending: false,
              // The invitation link reached this address.
              emailVerifiedAt: now,
            },
            select: USER_FIELDS,
          }).catch((err: unknown) => {
            if ((err as { code?: string }).code === 'P2002') throw new UsernameTaken()
            throw err
          })
          await tx.accountToken.updateMany({ where: { id: invite.id }, data: { userId: created.id } })
          return { user: created, invite: { ...invite, userId: created.id } }
        })
      } catch (err) {
        if (err instanceof UsernameTaken) return 'username_taken'
        throw err
      }
    },
    async createUser (user) {
      try {
        return await prisma.user.create({
          data: {
            username: forms.display(user.username),
            usernameKey: forms.key(user.username),
            email: user.email,
            passwordHash: user.passwordHash,
            scopes: user.scopes,
            verificationPending: user.verificationPending,
            emailVerifiedAt: user.emailVerified ? new Date() : null,
          },
          select: USER_FIELDS,
        })
      } catch (err) {
        if ((err as { code?: string }).code === 'P2002') return null
        throw err
      }
    },
    async listInvites (now) {
      const rows = await prisma.accountToken.findMany({
        where: { purpose: 'invite', consumedAt: null, expiresAt: { gt: now } }, select: TOKEN_FIELDS, orderBy: { createdAt: 'desc' }, take: 500,
      })
      return rows.map(record)
    },
    async revokeInvite (id, now) {
      const { count } = await prisma.accountToken.updateMany({ where: { id, purpose: 'invite', consumedAt: null }, data: { consumedAt: now } })
      return count === 1
    },
  }
}
