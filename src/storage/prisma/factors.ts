/**
 * Second factors on Prisma. Every one-time value is consumed by a single conditional statement:
 * a TOTP step (`last_used_step` only moves forward), a recovery code (`used_at IS NULL`), a
 * WebAuthn challenge (DELETE … RETURNING).
 *
 * @module
 */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type { FactorPresence, FactorStore, PasskeyRecord, TOTPRecord } from '../types.js'

/**
 * A TOTP step used on its own (a hosted sign-in consumes its step inside the sign-in's one
 * transaction instead, storage/prisma/sign_ins.ts). A synchronous commit: nothing written after
 * it would flush it, and a forgotten step could be accepted twice (RFC 6238 §5.2). On the pg pool
 * under Prisma.
 */
const USE_STEP = {
  name: 'totp_use_step',
  text: `UPDATE totp_factors SET last_used_step = $2
    WHERE user_id = $1::uuid AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2::bigint)`,
}

/**
 * A user's TOTP record, read on the pg pool as a named statement: every TOTP sign-in reads it,
 * and Prisma's query path cost about 1 ms of what TOTP adds to a sign-in (the refresh grant's
 * statements run on the pool for the same reason).
 */
const FIND_TOTP = {
  name: 'totp_find',
  text: `SELECT ${totpColumns('totp_factors')} FROM totp_factors WHERE user_id = $1::uuid`,
}

/** The TOTP record's columns of table alias `table`, each named `as` + its field (also for joined reads). */
export function totpColumns (table: string, as = ''): string {
  return `${table}.user_id AS "${as}userId", ${table}.secret_enc AS "${as}secretEnc", ${table}.kek_id AS "${as}kekId",
    ${table}.last_used_step AS "${as}lastUsedStep", ${table}.confirmed_at AS "${as}confirmedAt", ${table}.created_at AS "${as}createdAt"`
}

/** Which factors the user `userId` (an SQL expression) has, as columns named `as` + FactorPresence's fields. */
export function presenceColumns (userId: string, as = ''): string {
  return `EXISTS (SELECT 1 FROM totp_factors WHERE user_id = ${userId} AND confirmed_at IS NOT NULL) AS "${as}totp",
    (SELECT count(*) FROM webauthn_credentials WHERE user_id = ${userId})::int AS "${as}passkeys",
    (SELECT count(*) FROM recovery_codes WHERE user_id = ${userId} AND used_at IS NULL)::int AS "${as}recoveryCodesLeft"`
}

/**
 * Which factors a user has, in one statement on the pool: the sign-in asks after the password
 * (is a second factor owed?) and again for the second-factor page (what to offer). Through
 * Prisma that was three queries (TOTP record, passkey list, recovery-code count) each time.
 */
const PRESENCE = {
  name: 'factor_presence',
  text: `SELECT ${presenceColumns('$1::uuid')}`,
}

function passkey (row: { id: string, userId: string, publicKey: Uint8Array, signCount: bigint, backupEligible: boolean, backupState: boolean, transports: string[], name: string, createdAt: Date, lastUsedAt: Date | null }): PasskeyRecord {
  return { ...row, publicKey: new Uint8Array(row.publicKey), signCount: Number(row.signCount) }
}

/** `lastUsedStep`: a BIGINT, from Prisma as a bigint, from pg as a string; a step (seconds / 30) stays far inside 2^53. */
export function totp (row: { userId: string, secretEnc: string, kekId: string, lastUsedStep: bigint | string | null, confirmedAt: Date | null, createdAt: Date }): TOTPRecord {
  return { ...row, lastUsedStep: row.lastUsedStep === null ? null : Number(row.lastUsedStep) }
}

/** `pool`: the pg pool under Prisma, for the sign-in's lookup and step (FIND_TOTP, USE_STEP); Prisma runs them without. */
export function prismaFactorStore (prisma: PrismaClient, pool?: pg.Pool): FactorStore {
  return {
    listPasskeys: async (userId) => (await prisma.webAuthnCredential.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } })).map(passkey),
    async findPasskey (id) {
      const row = await prisma.webAuthnCredential.findUnique({ where: { id } })
      return row ? passkey(row) : null
    },
    async addPasskey (p) {
      await prisma.webAuthnCredential.create({ data: { ...p, publicKey: Buffer.from(p.publicKey), signCount: BigInt(p.signCount) } })
    },
    async passkeyUsed (id, signCount, backupState, now) {
      await prisma.webAuthnCredential.updateMany({ where: { id }, data: { signCount: BigInt(signCount), backupState, lastUsedAt: now } })
    },
    async renamePasskey (userId, id, name) {
      return (await prisma.webAuthnCredential.updateMany({ where: { id, userId }, data: { name } })).count === 1
    },
    async removePasskey (userId, id) {
      return (await prisma.webAuthnCredential.deleteMany({ where: { id, userId } })).count === 1
    },

    async findTOTP (userId) {
      const row = pool
        ? (await pool.query<Parameters<typeof totp>[0]>({ ...FIND_TOTP, values: [userId] })).rows[0]
        : await prisma.totpFactor.findUnique({ where: { userId } })
      return row ? totp(row) : null
    },
    async beginTOTP ({ userId, secretEnc, kekId }) {
      const count = await prisma.$executeRaw`
        INSERT INTO totp_factors (user_id, secret_enc, kek_id) VALUES (${userId}::uuid, ${secretEnc}, ${kekId})
        ON CONFLICT (user_id) DO UPDATE SET secret_enc = EXCLUDED.secret_enc, kek_id = EXCLUDED.kek_id, last_used_step = NULL, created_at = now()
        WHERE totp_factors.confirmed_at IS NULL`
      return count === 1
    },
    async acceptTOTPStep (userId, step, now, confirm) {
      if (confirm) {
        return await prisma.$executeRaw`
          UPDATE totp_factors SET last_used_step = ${step}, confirmed_at = COALESCE(confirmed_at, ${now})
          WHERE user_id = ${userId}::uuid AND (last_used_step IS NULL OR last_used_step < ${step})` === 1
      }
      if (pool) return (await pool.query({ ...USE_STEP, values: [userId, step] })).rowCount === 1
      return await prisma.$executeRawUnsafe(USE_STEP.text, userId, step) === 1
    },
    async removeTOTP (userId) {
      return (await prisma.totpFactor.deleteMany({ where: { userId } })).count === 1
    },

    async replaceRecoveryCodes (userId, hashes) {
      await prisma.$transaction([
        prisma.recoveryCode.deleteMany({ where: { userId } }),
        prisma.recoveryCode.createMany({ data: hashes.map((codeHash) => ({ codeHash, userId })) }),
      ])
    },
    async consumeRecoveryCode (userId, codeHash, now) {
      return (await prisma.recoveryCode.updateMany({ where: { codeHash, userId, usedAt: null }, data: { usedAt: now } })).count === 1
    },
    remainingRecoveryCodes: (userId) => prisma.recoveryCode.count({ where: { userId, usedAt: null } }),
    async factorPresence (userId) {
      if (pool) return (await pool.query<FactorPresence>({ ...PRESENCE, values: [userId] })).rows[0]
      const [totpRow, passkeys, recoveryCodesLeft] = await Promise.all([
        prisma.totpFactor.findUnique({ where: { userId }, select: { confirmedAt: true } }),
        prisma.webAuthnCredential.count({ where: { userId } }),
        prisma.recoveryCode.count({ where: { userId, usedAt: null } }),
      ])
      return { totp: totpRow?.confirmedAt != null, passkeys, recoveryCodesLeft }
    },

    async resetFactors (userId) {
      const [passkeys, totpRows, codes] = await prisma.$transaction([
        prisma.webAuthnCredential.deleteMany({ where: { userId } }),
        prisma.totpFactor.deleteMany({ where: { userId } }),
        prisma.recoveryCode.deleteMany({ where: { userId } }),
      ])
      return { passkeys: passkeys.count, totp: totpRows.count, recoveryCodes: codes.count }
    },

    async createChallenge (c) {
      await prisma.webAuthnChallenge.create({ data: c })
    },
    async takeChallenge (id, browserHash, now) {
      const rows = await prisma.$queryRaw<Array<{ id: string, browser_hash: string, challenge: string, purpose: string, user_id: string | null, expires_at: Date }>>`
        DELETE FROM webauthn_challenges WHERE id = ${id} RETURNING id, browser_hash, challenge, purpose, user_id, expires_at`
      const row = rows[0]
      // Deleted either way: a challenge presented from another browser or too late is spent too.
      if (!row || row.browser_hash !== browserHash || row.expires_at <= now) return null
      return { id: row.id, browserHash: row.browser_hash, challenge: row.challenge, purpose: row.purpose as 'register' | 'authenticate', userId: row.user_id, expiresAt: row.expires_at }
    },
  }
}
