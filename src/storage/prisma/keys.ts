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
          sealedValues: async () => [
            ...(await tx.totpFactor.findMany({ select: { userId: true, secretEnc: true } }))
              .map((r) => ({ kind: 'totp' as const, id: r.userId, aadKey: r.userId, sealed: r.secretEnc })),
            ...(await tx.identityProvider.findMany({ where: { credentialEnc: { not: null } }, select: { id: true, credentialEnc: true } }))
              .map((r) => ({ kind: 'idp_credential' as const, id: r.id, aadKey: r.id, sealed: r.credentialEnc! })),
            ...(await tx.federationState.findMany({ where: { idTokenEnc: { not: null }, requestId: { not: null } }, select: { stateHash: true, requestId: true, idTokenEnc: true } }))
              .map((r) => ({ kind: 'held_id_token' as const, id: r.stateHash, aadKey: r.requestId!, sealed: r.idTokenEnc! })),
            ...(await tx.federatedSession.findMany({ select: { sessionId: true, idTokenEnc: true } }))
              .map((r) => ({ kind: 'upstream_session' as const, id: r.sessionId, aadKey: r.sessionId, sealed: r.idTokenEnc })),
          ],
          reseal: async (value, sealed, kekId) => {
            switch (value.kind) {
              case 'totp': await tx.totpFactor.update({ where: { userId: value.id }, data: { secretEnc: sealed, kekId } }); break
              case 'idp_credential': await tx.identityProvider.update({ where: { id: value.id }, data: { credentialEnc: sealed, kekId } }); break
              case 'held_id_token': await tx.federationState.update({ where: { stateHash: value.id }, data: { idTokenEnc: sealed } }); break
              case 'upstream_session': await tx.federatedSession.update({ where: { sessionId: value.id }, data: { idTokenEnc: sealed, kekId } }); break
            }
          },
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
