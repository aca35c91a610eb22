/** RFC 7591 initial access tokens on Prisma. @module */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { RegistrationTokenStore } from '../types.js'

export function prismaRegistrationTokenStore (prisma: PrismaClient): RegistrationTokenStore {
  return {
    async create (token) {
      await prisma.registrationToken.create({ data: token })
    },
    async use (tokenHash, now) {
      // Counted in the same statement that checks the limit: two concurrent uses of a token with
      // one use left cannot both pass.
      const rows = await prisma.$queryRaw<Array<{ id: string }>>`
        UPDATE registration_tokens SET uses = uses + 1
        WHERE token_hash = ${tokenHash} AND (expires_at IS NULL OR expires_at > ${now}) AND (max_uses IS NULL OR uses < max_uses)
        RETURNING id`
      return rows[0]?.id ?? null
    },
  }
}
