/**
 * Builds Stamp's services once and decorates the instance with them: routes reach data only
 * through these decorators, never through Prisma.
 *
 * @module
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/env.js'
import { createPrisma, type PrismaClient } from '../db/connection.js'
import { loadKEK } from '../crypto/kek.js'
import { Keyring } from '../domain/keyring.js'
import { TokenMinter } from '../domain/tokens.js'
import { ClientCache } from '../domain/client_auth.js'
import { PasswordHasher } from '../domain/passwords.js'
import { prismaClientStore } from '../storage/prisma/clients.js'
import { prismaUserStore } from '../storage/prisma/users.js'
import { prismaRefreshTokenStore } from '../storage/prisma/refresh_tokens.js'
import { prismaKeyStore } from '../storage/prisma/keys.js'
import type { ClientStore, RefreshTokenStore, UserStore } from '../storage/types.js'
import type { GrantServices } from '../grants/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    prisma: PrismaClient
    keyring: Keyring
    minter: TokenMinter
    clientCache: ClientCache
    clientStore: ClientStore
    usersRepository: UserStore
    refreshTokens: RefreshTokenStore
    passwordHasher: PasswordHasher
    grantServices: GrantServices
  }
}

export interface ServicesOptions {
  config: Config
  database: { url: string, poolMax: number }
  /** Injectable clock for key lifecycle tests. */
  now?: () => Date
  /** Run scheduled key maintenance (off in most tests). */
  scheduleKeys?: boolean
}

export default fp(async function services (app: FastifyInstance, options: ServicesOptions) {
  const { config } = options
  const prisma = createPrisma(options.database)
  app.addHook('onClose', async () => { await prisma.$disconnect() })

  const keyring = new Keyring({ store: prismaKeyStore(prisma), kek: loadKEK(config), policy: config.policy, log: app.log, now: options.now })
  await keyring.start({ schedule: options.scheduleKeys ?? true })
  app.addHook('onClose', () => keyring.stop())

  const minter = new TokenMinter({ issuer: config.issuer, keyring, accessTokenTTL: config.policy.accessTokenTTL, refreshTokenTTL: config.policy.refreshTokenTTL })
  const clientStore = prismaClientStore(prisma)
  const usersRepository = prismaUserStore(prisma)
  const refreshTokens = prismaRefreshTokenStore(prisma)
  const passwordHasher = new PasswordHasher(config.policy.argon2)

  app.decorate('config', config)
  app.decorate('prisma', prisma)
  app.decorate('keyring', keyring)
  app.decorate('minter', minter)
  app.decorate('clientStore', clientStore)
  app.decorate('clientCache', new ClientCache(clientStore, config.policy.clientCacheTTL))
  app.decorate('usersRepository', usersRepository)
  app.decorate('refreshTokens', refreshTokens)
  app.decorate('passwordHasher', passwordHasher)
  app.decorate('grantServices', {
    issuer: config.issuer, policy: config.policy, minter, users: usersRepository, refreshTokens, passwords: passwordHasher, log: app.log,
  })
}, { name: 'services' })
