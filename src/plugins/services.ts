/**
 * Builds Stamp's services once and decorates the instance with them: routes reach data only
 * through these decorators, never through Prisma.
 *
 * @module
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/env.js'
import { createPool, createPrisma, type PrismaClient } from '../db/connection.js'
import { loadKEK } from '../crypto/kek.js'
import { Keyring } from '../domain/keyring.js'
import { TokenMinter } from '../domain/tokens.js'
import { ClientCache } from '../domain/client_auth.js'
import { PasswordHasher } from '../domain/passwords.js'
import { prismaClientStore } from '../storage/prisma/clients.js'
import { prismaUserStore } from '../storage/prisma/users.js'
import { prismaRefreshTokenStore } from '../storage/prisma/refresh_tokens.js'
import { prismaKeyStore } from '../storage/prisma/keys.js'
import { prismaAuditStore } from '../storage/prisma/audit.js'
import { prismaSessionStore } from '../storage/prisma/sessions.js'
import { prismaPendingAuthorizationStore } from '../storage/prisma/authorization_requests.js'
import { prismaAuthorizationCodeStore } from '../storage/prisma/authorization_codes.js'
import { prismaConsentStore } from '../storage/prisma/consents.js'
import { BackchannelLogout } from '../domain/backchannel_logout.js'
import { SingleSignOn } from '../domain/sso.js'
import type {
  AuditStore, AuthorizationCodeStore, ClientStore, ConsentStore, KeyStore, PendingAuthorizationStore, RefreshTokenStore, SessionStore, UserStore,
} from '../storage/types.js'
import type { GrantServices } from '../grants/index.js'
import { AuditLog } from '../domain/audit.js'
import { LoginThrottle, MemoryThrottleStore, RedisThrottleStore } from '../domain/login_throttle.js'
import { PasswordPolicy } from '../domain/password_policy.js'
import { Redis } from 'ioredis'
import { ClientMetadataResolver } from '../domain/client_metadata.js'
import { ClientUsage } from '../domain/client_usage.js'
import { safeFetch, type SafeFetchOptions } from '../http/safe_fetch.js'
import { prismaRegistrationTokenStore } from '../storage/prisma/registration_tokens.js'
import type { RegistrationTokenStore } from '../storage/types.js'

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
    keyStore: KeyStore
    auditStore: AuditStore
    audit: AuditLog
    loginThrottle: LoginThrottle
    passwordPolicy: PasswordPolicy
    /** Shared Redis connection when REDIS_URL is set (rate limits, login throttle); null otherwise. */
    redis: Redis | null
    sessions: SessionStore
    pendingAuthorizations: PendingAuthorizationStore
    authorizationCodes: AuthorizationCodeStore
    consents: ConsentStore
    backchannelLogout: BackchannelLogout
    sso: SingleSignOn
    /** Client ID metadata document clients; null when CLIENT_ID_METADATA_DOCUMENTS=false. */
    clientMetadata: ClientMetadataResolver | null
    clientUsage: ClientUsage
    registrationTokens: RegistrationTokenStore
  }
}

export interface ServicesOptions {
  config: Config
  database: { url: string, poolMax: number }
  /** Injectable clock for key lifecycle tests. */
  now?: () => Date
  /** Run scheduled key maintenance and expired-row purging (off in most tests). */
  scheduleKeys?: boolean
  /** Back-channel logout HTTP client (tests may inject one). */
  fetch?: typeof fetch
  /** Client metadata document fetching: an injected resolver and extra trusted CAs (tests). */
  clientMetadataFetch?: Pick<SafeFetchOptions, 'lookup' | 'ca'>
}

export default fp(async function services (app: FastifyInstance, options: ServicesOptions) {
  const { config } = options
  const pool = createPool(options.database)
  const prisma = createPrisma(options.database, pool)
  app.addHook('onClose', async () => {
    await prisma.$disconnect()
    await pool.end()
  })

  const keyStore = prismaKeyStore(prisma)
  const keyring = new Keyring({ store: keyStore, kek: loadKEK(config), policy: config.policy, log: app.log, now: options.now })
  await keyring.start({ schedule: options.scheduleKeys ?? true })
  app.addHook('onClose', () => keyring.stop())

  const minter = new TokenMinter({ issuer: config.issuer, keyring, accessTokenTTL: config.policy.accessTokenTTL, refreshTokenTTL: config.policy.refreshTokenTTL })
  const clientStore = prismaClientStore(prisma)
  const usersRepository = prismaUserStore(prisma, pool)
  const refreshTokens = prismaRefreshTokenStore(prisma, pool)
  const passwordHasher = new PasswordHasher(config.policy.argon2)
  const auditStore = prismaAuditStore(prisma, pool)
  const audit = new AuditLog(auditStore, app.log)

  let redis: Redis | null = null
  if (config.redisUrl) {
    // Fail fast instead of queueing commands forever while Redis is down.
    redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true })
    await redis.connect()
    const connection = redis
    app.addHook('onClose', async () => { await connection.quit() })
  }
  const loginThrottle = new LoginThrottle(redis ? new RedisThrottleStore(redis) : new MemoryThrottleStore(), config.policy.loginThrottle)
  const clientMetadata = config.clientMetadataDocuments
    ? new ClientMetadataResolver({
        policy: config.policy,
        store: clientStore,
        fetch: (url) => safeFetch(url, {
          ...options.clientMetadataFetch,
          allowLoopback: config.clientMetadataAllowLoopback,
          timeoutMs: config.policy.clientMetadata.timeoutMs,
          maxBytes: config.policy.clientMetadata.maxBytes,
          headers: { accept: 'application/json' },
        }),
        onRegistered: (client) => {
          void audit.record({ type: 'client_registered', actor: client.id, subject: client.id, clientId: client.id, detail: { origin: 'cimd', redirect_uris: client.redirectUris } })
        },
      })
    : null
  const clientCache = new ClientCache(clientStore, config.policy.clientCacheTTL, clientMetadata ?? undefined)
  const clientUsage = new ClientUsage({ store: clientStore, audit, log: app.log, intervalSeconds: config.policy.registration.lastUseInterval })
  app.addHook('onClose', () => clientUsage.drain())
  const sessions = prismaSessionStore(prisma)
  const pendingAuthorizations = prismaPendingAuthorizationStore(prisma)
  const authorizationCodes = prismaAuthorizationCodeStore(prisma)
  const consents = prismaConsentStore(prisma)
  const backchannelLogout = new BackchannelLogout(config.policy.backchannelLogout, app.log, options.fetch)
  // Registered after the keyring's onClose, so hooks run in reverse: deliveries finish first.
  app.addHook('onClose', () => backchannelLogout.drain())
  const sso = new SingleSignOn({
    issuer: config.issuer,
    policy: config.policy,
    sessions,
    pending: pendingAuthorizations,
    codes: authorizationCodes,
    consents,
    users: usersRepository,
    findClient: (id) => clientCache.find(id),
    minter,
    backchannel: backchannelLogout,
    log: app.log,
  })
  if (options.scheduleKeys ?? true) {
    // Expired codes and abandoned login attempts are useless; a day's margin keeps replays explainable in logs.
    const purge = setInterval(() => {
      const now = new Date()
      Promise.all([
        pendingAuthorizations.purgeExpired(now),
        authorizationCodes.purgeExpired(new Date(now.getTime() - 86_400_000)),
      ]).catch((err: unknown) => app.log.warn({ err }, 'purging expired authorization rows failed'))
    }, 600_000)
    purge.unref()
    app.addHook('onClose', async () => { clearInterval(purge) })
  }

  app.decorate('config', config)
  app.decorate('prisma', prisma)
  app.decorate('keyring', keyring)
  app.decorate('minter', minter)
  app.decorate('clientStore', clientStore)
  app.decorate('clientCache', clientCache)
  app.decorate('usersRepository', usersRepository)
  app.decorate('refreshTokens', refreshTokens)
  app.decorate('passwordHasher', passwordHasher)
  app.decorate('keyStore', keyStore)
  app.decorate('auditStore', auditStore)
  app.decorate('audit', audit)
  app.decorate('loginThrottle', loginThrottle)
  app.decorate('passwordPolicy', new PasswordPolicy(config.policy.password))
  app.decorate('redis', redis)
  app.decorate('grantServices', {
    issuer: config.issuer, policy: config.policy, minter, users: usersRepository, refreshTokens, codes: authorizationCodes, passwords: passwordHasher,
    throttle: loginThrottle, audit, log: app.log, sessions,
  })
  app.decorate('sessions', sessions)
  app.decorate('pendingAuthorizations', pendingAuthorizations)
  app.decorate('authorizationCodes', authorizationCodes)
  app.decorate('consents', consents)
  app.decorate('backchannelLogout', backchannelLogout)
  app.decorate('sso', sso)
  app.decorate('clientMetadata', clientMetadata)
  app.decorate('clientUsage', clientUsage)
  app.decorate('registrationTokens', prismaRegistrationTokenStore(prisma))
}, { name: 'services' })
