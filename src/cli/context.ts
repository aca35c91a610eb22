/**
 * What every CLI command needs: the validated configuration, a migrated database, and the same
 * stores and services the server uses (the CLI never has its own data logic).
 *
 * @module
 */
import pino from 'pino'
import type pg from 'pg'
import type { Config } from '../config/env.js'
import { createPool, createPrisma, openDatabase, type Database, type PrismaClient } from '../db/connection.js'
import { migrate, readMigrations } from '../db/migrate.js'
import type { Keyring } from '../domain/keyring.js'
import type { PasswordHasher } from '../domain/passwords.js'
import { loggerOptions } from '../logging.js'
import { prismaClientStore } from '../storage/prisma/clients.js'
import { prismaUserStore } from '../storage/prisma/users.js'
import { USERNAME_FORMS } from '../domain/usernames.js'
import { prismaKeyStore } from '../storage/prisma/keys.js'
import { prismaAuditStore } from '../storage/prisma/audit.js'
import { AuditLog } from '../domain/audit.js'
import type { PasswordPolicy } from '../domain/password_policy.js'
import { prismaConsentStore } from '../storage/prisma/consents.js'
import { prismaRefreshTokenStore } from '../storage/prisma/refresh_tokens.js'
import { prismaRetentionStore } from '../storage/prisma/retention.js'
import type { RetentionStore } from '../storage/types.js'
import { prismaRegistrationTokenStore } from '../storage/prisma/registration_tokens.js'
import { prismaFactorStore } from '../storage/prisma/factors.js'
import type { FactorStore } from '../storage/types.js'

export interface CLIContext {
  config: Config
  prisma: PrismaClient
  database: Database
  clients: ReturnType<typeof prismaClientStore>
  users: ReturnType<typeof prismaUserStore>
  keys: ReturnType<typeof prismaKeyStore>
  consents: ReturnType<typeof prismaConsentStore>
  /** argon2, loaded on first use (most commands hash nothing: a faster start). */
  passwords(): Promise<PasswordHasher>
  /** The policy with its common-password list, loaded on first use. */
  passwordPolicy(): Promise<PasswordPolicy>
  audits: ReturnType<typeof prismaAuditStore>
  /** Audit trail; CLI actions are recorded with actor "cli". */
  audit: AuditLog
  /** A keyring on the shared key store (does not run the maintenance timer). */
  keyring(): Promise<Keyring>
  refreshTokens: ReturnType<typeof prismaRefreshTokenStore>
  /** Retention on the same database and lock as the servers' scheduled passes. */
  retention: RetentionStore
  registrationTokens: ReturnType<typeof prismaRegistrationTokenStore>
  /** Users' second factors (list, reset). */
  factors: FactorStore
}

export async function withContext<T> (config: Config, run: (ctx: CLIContext) => Promise<T>): Promise<T> {
  const database = await openDatabase(config, { beside: true })
  try {
    const pool = createPool(database)
    // Beside a running server the database is the server's, migrated at its start. Otherwise
    // migrate, unless one query on the pool shows nothing pending (the applier's own connection
    // and advisory lock cost a command more than all its other statements).
    if (!database.beside && !await upToDate(pool)) await migrate(database.url)
    const prisma = createPrisma(database, pool)
    try {
      const keys = prismaKeyStore(prisma)
      const audits = prismaAuditStore(prisma, pool)
      // Logs go to stderr: stdout is reserved for the command's output (--json).
      const auditLog = pino({ ...loggerOptions(config.logLevel === 'info' ? 'warn' : config.logLevel) }, pino.destination(2))
      return await run({
        config,
        prisma,
        database,
        clients: prismaClientStore(prisma),
        users: prismaUserStore(prisma, pool, USERNAME_FORMS),
        keys,
        consents: prismaConsentStore(prisma),
        passwords: once(async () => new (await import('../domain/passwords.js')).PasswordHasher(config.policy.argon2)),
        passwordPolicy: once(async () => new (await import('../domain/password_policy.js')).PasswordPolicy(config.policy.password)),
        audits,
        audit: new AuditLog(audits, auditLog),
        retention: prismaRetentionStore(pool, { lock: !database.embedded }),
        registrationTokens: prismaRegistrationTokenStore(prisma),
        factors: prismaFactorStore(prisma),
        async keyring () {
          // Logs go to stderr: stdout is reserved for the command's output (--json).
          const log = pino({ ...loggerOptions(config.logLevel === 'info' ? 'warn' : config.logLevel) }, pino.destination(2))
          const [{ Keyring, loadKEKFor }, { ClockGuard }] = await Promise.all([import('../domain/keyring.js'), import('../domain/clock_guard.js')])
          // Rotation refuses when this host's clock is off from PostgreSQL's (CLOCK_SKEW_MAX).
          const clock = new ClockGuard({ databaseNow: (via) => (via ?? keys).databaseNow(), maxSkewMs: config.clockSkewMax * 1000, log })
          const keyring = new Keyring({ store: keys, kek: await loadKEKFor(config, keys, log), policy: config.policy, log, clock })
          await keyring.start({ schedule: false })
          return keyring
        },
        refreshTokens: prismaRefreshTokenStore(prisma, pool),
      })
    } finally {
      await prisma.$disconnect()
      await pool.end()
    }
  } finally {
    await database.close()
  }
}

function once<T> (make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined
  return () => (made ??= make())
}

/** True when every migration in prisma/migrations is applied, finished, with the same checksum. */
async function upToDate (pool: pg.Pool): Promise<boolean> {
  try {
    const { rows } = await pool.query<{ migration_name: string, checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL')
    const applied = new Map(rows.map((row) => [row.migration_name, row.checksum]))
    return readMigrations().every((m) => applied.get(m.name) === m.checksum)
  } catch {
    return false // no history table yet: migrate() creates it (or explains what is wrong)
  }
}
