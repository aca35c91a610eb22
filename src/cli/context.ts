/**
 * What every CLI command needs: the validated configuration, a migrated database, and the same
 * stores and services the server uses (the CLI never has its own data logic).
 *
 * @module
 */
import pino from 'pino'
import type { Config } from '../config/env.js'
import { createPool, createPrisma, openDatabase, type Database, type PrismaClient } from '../db/connection.js'
import { migrate } from '../db/migrate.js'
import { loadKEK } from '../crypto/kek.js'
import { Keyring } from '../domain/keyring.js'
import { PasswordHasher } from '../domain/passwords.js'
import { loggerOptions } from '../logging.js'
import { prismaClientStore } from '../storage/prisma/clients.js'
import { prismaUserStore } from '../storage/prisma/users.js'
import { prismaKeyStore } from '../storage/prisma/keys.js'
import { prismaAuditStore } from '../storage/prisma/audit.js'
import { AuditLog } from '../domain/audit.js'
import { PasswordPolicy } from '../domain/password_policy.js'
import { prismaConsentStore } from '../storage/prisma/consents.js'
import { prismaRefreshTokenStore } from '../storage/prisma/refresh_tokens.js'
import { prismaRegistrationTokenStore } from '../storage/prisma/registration_tokens.js'

export interface CLIContext {
  config: Config
  prisma: PrismaClient
  database: Database
  clients: ReturnType<typeof prismaClientStore>
  users: ReturnType<typeof prismaUserStore>
  keys: ReturnType<typeof prismaKeyStore>
  consents: ReturnType<typeof prismaConsentStore>
  passwords: PasswordHasher
  passwordPolicy: PasswordPolicy
  audits: ReturnType<typeof prismaAuditStore>
  /** Audit trail; CLI actions are recorded with actor "cli". */
  audit: AuditLog
  /** A keyring on the shared key store (does not run the maintenance timer). */
  keyring(): Promise<Keyring>
  refreshTokens: ReturnType<typeof prismaRefreshTokenStore>
  registrationTokens: ReturnType<typeof prismaRegistrationTokenStore>
}

export async function withContext<T> (config: Config, run: (ctx: CLIContext) => Promise<T>): Promise<T> {
  const database = await openDatabase(config)
  try {
    await migrate(database.url)
    const pool = createPool(database)
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
        users: prismaUserStore(prisma, pool),
        keys,
        consents: prismaConsentStore(prisma),
        passwords: new PasswordHasher(config.policy.argon2),
        passwordPolicy: new PasswordPolicy(config.policy.password),
        audits,
        audit: new AuditLog(audits, auditLog),
        refreshTokens: prismaRefreshTokenStore(prisma, pool),
        registrationTokens: prismaRegistrationTokenStore(prisma),
        async keyring () {
          // Logs go to stderr: stdout is reserved for the command's output (--json).
          const log = pino({ ...loggerOptions(config.logLevel === 'info' ? 'warn' : config.logLevel) }, pino.destination(2))
          const keyring = new Keyring({ store: keys, kek: loadKEK(config), policy: config.policy, log })
          await keyring.start({ schedule: false })
          return keyring
        },
      })
    } finally {
      await prisma.$disconnect()
      await pool.end()
    }
  } finally {
    await database.close()
  }
}
