/**
 * Signing-key repository on Prisma. Every lifecycle change runs in one transaction holding a
 * PostgreSQL advisory lock, so instances sharing a database never create or rotate keys in a race.
 *
 * @module
 */
import type { JWK } from 'jose'
import type { PrismaClient, SigningKey } from '../../generated/prisma/client.js'
import type { KeyStatus } from '../../domain/keys.js'
import type { KeyStore, KeyTransaction, StoredKey } from '../types.js'
import { revokeFamiliesSignedBy } from './refresh_tokens.js'

/** Advisory lock key for key-lifecycle changes ("stamp" + "keys"; distinct from Prisma's migration lock). */
const KEYS_LOCK = 0x5354_4b59

function toStored (row: SigningKey): StoredKey {
  return { ...row, status: row.status as KeyStatus, publicJwk: row.publicJwk as JWK }
}

export function prismaKeyStore (prisma: PrismaClient): KeyStore {
  return {
    async published () {
      const rows = await prisma.signingKey.findMany({ where: { status: { in: ['next', 'active', 'retiring'] } }, orderBy: { createdAt: 'asc' } })
      return rows.map(toStored)
    },
    async all () {
      return (await prisma.signingKey.findMany({ orderBy: { createdAt: 'asc' } })).map(toStored)
    },
    async locked (step, options = {}) {
      return prisma.$transaction(async (tx) => {
        if (options.tryOnly) {
          const [{ locked }] = await tx.$queryRaw<[{ locked: boolean }]>`SELECT pg_try_advisory_xact_lock(${KEYS_LOCK}) AS locked`
          if (!locked) return undefined
        } else {
          await tx.$queryRaw`SELECT pg_advisory_xact_lock(${KEYS_LOCK})::text`
        }
        const keys: KeyTransaction = {
          all: async () => (await tx.signingKey.findMany({ orderBy: { createdAt: 'asc' } })).map(toStored),
          insert: async (key) => { await tx.signingKey.create({ data: { ...key, publicJwk: key.publicJwk as object } }) },
          update: async (kid, patch) => { await tx.signingKey.update({ where: { kid }, data: patch }) },
          revokeRefreshTokensSignedBy: (kid, now) => revokeFamiliesSignedBy(tx, kid, now),
          databaseNow: () => clockTimestamp(tx),
        }
        return step(keys)
      }, { timeout: 30_000, maxWait: 30_000 })
    },
    databaseNow: () => clockTimestamp(prisma),
  }
}

/** `clock_timestamp()`, not `now()`: the latter is frozen at the start of the transaction. */
async function clockTimestamp (db: Pick<PrismaClient, '$queryRaw'>): Promise<Date> {
  const [{ now }] = await db.$queryRaw<[{ now: Date }]>`SELECT clock_timestamp() AS now`
  return now
}
