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
import { Keyring, loadKEKFor } from '../domain/keyring.js'
import { TokenMinter } from '../domain/tokens.js'
import { ClientCache } from '../domain/client_auth.js'
import { PasswordHasher } from '../domain/passwords.js'
import { USERNAME_FORMS } from '../domain/usernames.js'
import { prismaClientStore } from '../storage/prisma/clients.js'
import { prismaUserStore } from '../storage/prisma/users.js'
import { prismaRefreshTokenStore } from '../storage/prisma/refresh_tokens.js'
import { prismaKeyStore } from '../storage/prisma/keys.js'
import { prismaAuditStore } from '../storage/prisma/audit.js'
import { prismaSessionStore } from '../storage/prisma/sessions.js'
import { prismaPendingAuthorizationStore } from '../storage/prisma/authorization_requests.js'
import { prismaSignInStore } from '../storage/prisma/sign_ins.js'
import { prismaAuthorizationCodeStore } from '../storage/prisma/authorization_codes.js'
import { prismaConsentStore } from '../storage/prisma/consents.js'
import { BackchannelLogout, type HostLookup } from '../domain/backchannel_logout.js'
import { SingleSignOn } from '../domain/sso.js'
import type { ThrottleStore } from '../domain/login_throttle.js'
import type {
  AuditStore, AuthorizationCodeStore, ClientStore, ConsentStore, KeyStore, PendingAuthorizationStore, RefreshTokenStore, SessionStore, UserStore,
} from '../storage/types.js'
import type { GrantServices } from '../grants/index.js'
import { AuditLog } from '../domain/audit.js'
import { FallbackThrottleStore, LoginThrottle, MemoryThrottleStore, RedisThrottleStore } from '../domain/login_throttle.js'
import { PasswordPolicy } from '../domain/password_policy.js'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { DependencyMonitor } from '../domain/dependency_monitor.js'
import { ClockGuard } from '../domain/clock_guard.js'
import { shortMessage } from '../db/outage.js'
import { Retention } from '../domain/retention.js'
import { prismaRetentionStore } from '../storage/prisma/retention.js'
import { ClientMetadataResolver } from '../domain/client_metadata.js'
import { ClientUsage } from '../domain/client_usage.js'
import { safeFetch, type SafeFetchOptions } from '../http/safe_fetch.js'
import { prismaRegistrationTokenStore } from '../storage/prisma/registration_tokens.js'
import type { DeviceAuthorizationStore, RegistrationTokenStore, ReplayStore } from '../storage/types.js'
import { prismaReplayStore } from '../storage/prisma/used_jtis.js'
import { prismaDeviceAuthorizationStore } from '../storage/prisma/device_authorizations.js'
import { UserCodeGuard } from '../domain/device_flow.js'
import { ClientKeys } from '../domain/client_keys.js'
import { ClientAssertionVerifier } from '../domain/client_assertion.js'
import { prismaPushedAuthorizationStore } from '../storage/prisma/pushed_authorization_requests.js'
import type { PushedAuthorizationStore } from '../storage/types.js'
import { createDPoPNonces } from 'stamp-verifier'
import { DPoPProofValidator } from '../domain/dpop.js'
import { FallbackReplayStore, RedisReplayStore } from '../domain/replay.js'
import { hkdfSync } from 'node:crypto'
import { prismaAccountTokenStore } from '../storage/prisma/account_tokens.js'
import { Accounts } from '../domain/accounts.js'
import { createMailTransport, type MailTransport } from '../mail/transport.js'
import { MailQueue } from '../mail/outbox.js'
import { prismaFactorStore } from '../storage/prisma/factors.js'
import { SecondFactors } from '../domain/second_factors.js'
import { prismaFederationStore } from '../storage/prisma/federation.js'
import { IdentityProviders } from '../domain/federation/providers.js'
import { UpstreamClients } from '../domain/federation/upstream.js'
import { Federation } from '../domain/federation/broker.js'

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
    /** Passkeys, TOTP and recovery codes (login, account page, admin API). */
    secondFactors: SecondFactors
    sessions: SessionStore
    pendingAuthorizations: PendingAuthorizationStore
    authorizationCodes: AuthorizationCodeStore
    consents: ConsentStore
    backchannelLogout: BackchannelLogout
    sso: SingleSignOn
    /** The pg pool under Prisma (its usage is exported as metrics). */
    dbPool: pg.Pool
    /** PostgreSQL up/down, fed by the error handler and /readyz; logs once per transition. */
    databaseMonitor: DependencyMonitor
    /** Redis up/down when REDIS_URL is set; while down, counters are per instance. */
    redisMonitor: DependencyMonitor | null
    /** Process clock vs PostgreSQL's (CLOCK_SKEW_MAX). */
    clockGuard: ClockGuard
    /** The purge runner (scheduled unless `scheduleKeys` is false; `runOnce` for one pass). */
    retention: Retention
    /** Client ID metadata document clients; null when CLIENT_ID_METADATA_DOCUMENTS=false. */
    clientMetadata: ClientMetadataResolver | null
    clientUsage: ClientUsage
    registrationTokens: RegistrationTokenStore
    /** One-time JWT identifiers (client assertions, DPoP proofs), shared by all instances. */
    usedJtis: ReplayStore
    /** RFC 8628 device authorizations, and the guard against user-code guessing. */
    deviceAuthorizations: DeviceAuthorizationStore
    userCodeGuard: UserCodeGuard
    /** Clients' public keys (registered jwks or fetched jwks_uri): assertions and request objects. */
    clientKeys: ClientKeys
    /** private_key_jwt client assertions (RFC 7523). */
    clientAssertions: ClientAssertionVerifier
    /** RFC 9126 pushed authorization requests. */
    pushedAuthorizations: PushedAuthorizationStore
    /** DPoP proof checks (RFC 9449 §4.3), with server nonces when DPOP_NONCE is on. */
    dpop: DPoPProofValidator
    /** Password reset, address verification, sign-up and invitations (mail links). */
    accounts: Accounts
    /** Background mail delivery (drained at close). */
    mailQueue: MailQueue
    /** Upstream identity providers (admin API, CLI, login page). */
    identityProviders: IdentityProviders
    /** Federated sign-in: the upstream round trip, links, just-in-time users, upstream logout. */
    federation: Federation
  }
}

export interface ServicesOptions {
  config: Config
  database: { url: string, poolMax: number }
  /** Injectable clock for key lifecycle tests. */
  now?: () => Date
  /** Injectable database clock; default `SELECT clock_timestamp()`, or `now` itself when only `now` is injected. */
  databaseNow?: () => Promise<Date>
  /** Run scheduled key maintenance and expired-row purging (off in most tests). */
  scheduleKeys?: boolean
  /** Back-channel logout HTTP client (tests may inject one). */
  fetch?: typeof fetch
  /** Back-channel logout DNS resolution (tests inject one, so no real name is resolved). */
  lookup?: HostLookup
  /** Client metadata document and client JWKS fetching: an injected resolver and extra trusted CAs (tests). */
  clientMetadataFetch?: Pick<SafeFetchOptions, 'lookup' | 'ca'>
  /** Mail transport (tests may inject one); default from SMTP_URL / MAIL_OUTBOX_DIR. */
  mailTransport?: MailTransport
  /** Upstream identity provider requests: an injected resolver and extra trusted CAs (tests). */
  federationFetch?: Pick<SafeFetchOptions, 'lookup' | 'ca'>
}

export default fp(async function services (app: FastifyInstance, options: ServicesOptions) {
  const { config } = options
  const pool = createPool({ ...options.database, connectTimeoutMs: config.databaseConnectTimeout * 1000 })
  const prisma = createPrisma(options.database, pool)
  const databaseMonitor = new DependencyMonitor({ name: 'database', log: app.log, probe: () => pool.query('SELECT 1') })
  app.addHook('onClose', async () => {
    databaseMonitor.stop()
    await prisma.$disconnect()
    await pool.end()
  })

  const keyStore = prismaKeyStore(prisma)
  const injectedNow = options.now
  const clockGuard = new ClockGuard({
    processNow: options.now,
    databaseNow: options.databaseNow ?? (injectedNow ? async () => injectedNow() : (via) => (via ?? keyStore).databaseNow()),
    maxSkewMs: config.clockSkewMax * 1000,
    log: app.log,
  })
  const kek = await loadKEKFor(config, keyStore, app.log)
  const keyring = new Keyring({ store: keyStore, kek, policy: config.policy, log: app.log, now: options.now, clock: clockGuard })
  await keyring.start({ schedule: options.scheduleKeys ?? true }) // its first step reads both clocks
  app.addHook('onClose', () => keyring.stop())
  if (options.scheduleKeys ?? true) {
    clockGuard.start(config.policy.clockCheckInterval * 1000)
    app.addHook('onClose', async () => clockGuard.stop())
  }

  const minter = new TokenMinter({ issuer: config.issuer, keyring, accessTokenTTL: config.policy.accessTokenTTL, refreshTokenTTL: config.policy.refreshTokenTTL })
  const clientStore = prismaClientStore(prisma)
  const usersRepository = prismaUserStore(prisma, pool, USERNAME_FORMS)
  // Migrated usernames the SQL backfill could not key (non-ASCII): keyed here, once.
  const { clashes } = await usersRepository.keyUnkeyedUsernames()
  if (clashes.length) app.log.warn({ user_ids: clashes }, 'users whose usernames differ from another user\'s only in case or Unicode form: they sign in by their exact username only')
  const refreshTokens = prismaRefreshTokenStore(prisma, pool)
  const passwordHasher = new PasswordHasher(config.policy.argon2)
  const auditStore = prismaAuditStore(prisma, pool)
  const audit = new AuditLog(auditStore, app.log)

  let redis: Redis | null = null
  let redisMonitor: DependencyMonitor | null = null
  let throttleStore: ThrottleStore = new MemoryThrottleStore()
  if (config.redisUrl) {
    ({ redis, monitor: redisMonitor } = await connectRedis(app, config.redisUrl))
    const monitor = redisMonitor
    throttleStore = new FallbackThrottleStore(new RedisThrottleStore(redis), throttleStore, () => monitor.up,
      (err) => monitor.failed((err as { code?: string }).code, shortMessage(err)))
  }
  const loginThrottle = new LoginThrottle(throttleStore, config.policy.loginThrottle)
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
  const pendingAuthorizations = prismaPendingAuthorizationStore(prisma, pool)
  const authorizationCodes = prismaAuthorizationCodeStore(prisma)
  const consents = prismaConsentStore(prisma)
  const backchannelLogout = new BackchannelLogout(config.policy.backchannelLogout, app.log, options.fetch, options.lookup)
  // Registered after the keyring's onClose, so hooks run in reverse: deliveries finish first.
  app.addHook('onClose', () => backchannelLogout.drain())
  const sso = new SingleSignOn({
    issuer: config.issuer,
    policy: config.policy,
    sessions,
    pending: pendingAuthorizations,
    codes: authorizationCodes,
    signIns: prismaSignInStore(pool),
    consents,
    users: usersRepository,
    findClient: (id) => clientCache.find(id),
    minter,
    backchannel: backchannelLogout,
    log: app.log,
  })
  // Retention: dead refresh tokens, sessions, codes, parked requests and old audit events. A
  // one-connection pool is the embedded database (one process): no lock to take there.
  const retention = new Retention({
    store: prismaRetentionStore(pool, { lock: options.database.poolMax > 1 }), policy: config.policy.purge, mailWindow: config.policy.accounts.mailWindow, audit, log: app.log,
  })
  if (options.scheduleKeys ?? true) {
    retention.start()
    // Registered after the pool's onClose, so it runs first: a running pass ends before the pool.
    app.addHook('onClose', () => retention.stop())
  }

  const mailTransport = options.mailTransport ?? createMailTransport({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, outboxDir: config.mail.outboxDir })
  if (mailTransport.kind === 'outbox') {
    // Only where they go: the mails themselves carry live links and never reach the log.
    app.log.warn({ outbox: config.mail.outboxDir }, 'SMTP_URL is unset: mails (password reset, verification, invitations) are written as .eml files to the outbox directory instead of being sent')
  }
  const mailQueue = new MailQueue(mailTransport, config.brand.productName, app.log)
  app.addHook('onClose', async () => {
    await mailQueue.drain()
    mailQueue.close()
  })
  const accounts = new Accounts({
    tokens: prismaAccountTokenStore(prisma, USERNAME_FORMS), users: usersRepository, outbox: mailQueue, audit, policy: config.policy.accounts, now: options.now,
  })

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
  app.decorate('redisMonitor', redisMonitor)
  app.decorate('dbPool', pool)
  app.decorate('databaseMonitor', databaseMonitor)
  app.decorate('clockGuard', clockGuard)
  const deviceAuthorizations = prismaDeviceAuthorizationStore(prisma)
  app.decorate('deviceAuthorizations', deviceAuthorizations)
  app.decorate('userCodeGuard', new UserCodeGuard(throttleStore, config.policy.deviceFlow))
  app.decorate('grantServices', {
    issuer: config.issuer, policy: config.policy, minter, users: usersRepository, refreshTokens, codes: authorizationCodes, passwords: passwordHasher,
    throttle: loginThrottle, audit, log: app.log, sessions, devices: deviceAuthorizations, findClient: (id) => clientCache.find(id),
  })
  app.decorate('sessions', sessions)
  app.decorate('pendingAuthorizations', pendingAuthorizations)
  app.decorate('authorizationCodes', authorizationCodes)
  app.decorate('consents', consents)
  app.decorate('backchannelLogout', backchannelLogout)
  app.decorate('sso', sso)
  app.decorate('retention', retention)
  app.decorate('clientMetadata', clientMetadata)
  app.decorate('clientUsage', clientUsage)
  app.decorate('registrationTokens', prismaRegistrationTokenStore(prisma))
  app.decorate('secondFactors', new SecondFactors({ store: prismaFactorStore(prisma, pool), kek, productName: 'Stamp', challengeTTL: config.policy.mfa.challengeTTL, now: options.now }))
  const usedJtis = prismaReplayStore(prisma, pool)
  app.decorate('usedJtis', usedJtis)
  // A client's jwks_uri is a URL its registrant chose: fetched under the same SSRF rules as documents.
  const clientKeys = new ClientKeys({
    policy: config.policy.clientKeys,
    fetch: (url) => safeFetch(url, {
      ...options.clientMetadataFetch,
      allowLoopback: config.clientMetadataAllowLoopback,
      timeoutMs: config.policy.clientKeys.jwksTimeoutMs,
      maxBytes: config.policy.clientKeys.jwksMaxBytes,
      headers: { accept: 'application/jwk-set+json, application/json' },
    }),
  })
  app.decorate('clientKeys', clientKeys)
  // DPoP proofs come with every DPoP request and client assertions with every private_key_jwt
  // request: Redis SET NX when it is up, PostgreSQL otherwise (domain/replay.ts).
  const monitor = redisMonitor
  const jtiReplay = redis && monitor
    ? new FallbackReplayStore(new RedisReplayStore(redis), usedJtis, () => monitor.up, (err) => monitor.failed((err as { code?: string }).code, shortMessage(err)))
    : usedJtis
  app.decorate('clientAssertions', new ClientAssertionVerifier({ keys: clientKeys, replay: jtiReplay, policy: config.policy.clientKeys }))
  app.decorate('pushedAuthorizations', prismaPushedAuthorizationStore(prisma))
  // Nonces are an HMAC under a key derived from the KEK, which every instance shares: any instance
  // accepts the nonce another issued, and nothing is stored.
  const now = options.now && (() => options.now!().getTime())
  const nonces = config.policy.dpop.nonce
    ? createDPoPNonces(Buffer.from(hkdfSync('sha256', kek.key, Buffer.alloc(0), 'stamp dpop nonce v1', 32)), config.policy.dpop.nonceLifetime, now)
    : null
  app.decorate('dpop', new DPoPProofValidator({ policy: config.policy.dpop, replay: jtiReplay, nonces, now }))
  app.decorate('accounts', accounts)
  app.decorate('mailQueue', mailQueue)

  const federationStore = prismaFederationStore(prisma, pool)
  let upstream: UpstreamClients | undefined
  const identityProviders = new IdentityProviders({
    store: federationStore, kek, audit, issuer: config.issuer, allowInsecure: config.federation.allowLoopback,
    onChange: (id) => upstream?.forget(id),
  })
  upstream = new UpstreamClients({
    fetch: {
      ...options.federationFetch,
      allowLoopback: config.federation.allowLoopback,
      allowPrivate: config.federation.allowPrivateNetworks,
      timeoutMs: config.policy.federation.timeoutMs,
      maxBytes: config.policy.federation.maxBytes,
    },
    ttl: config.policy.federation.discoveryTTL,
    credential: (p) => identityProviders.credential(p),
  })
  app.decorate('identityProviders', identityProviders)
  app.decorate('federation', new Federation({
    store: federationStore, providers: identityProviders, upstream, users: usersRepository, audit, kek, policy: config.policy.federation, log: app.log, now: options.now,
  }))
}, { name: 'services' })

/**
 * Redis is optional at run time and at boot: Stamp starts while it is unreachable and reconnects
 * in the background (ioredis' retry strategy, capped at 2 s between attempts). Commands fail fast
 * while it is down (no offline queue), and callers fall back to per-instance counters.
 */
async function connectRedis (app: FastifyInstance, url: string): Promise<{ redis: Redis, monitor: DependencyMonitor }> {
  let redis: Redis
  let closing = false
  // The probe covers a command failure on a connection that stays up (no new 'ready' event).
  const monitor = new DependencyMonitor({
    name: 'redis',
    log: app.log,
    fallback: 'rate limits and login throttling use per-instance counters until it is back',
    probe: () => redis.ping(),
  })
  redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  })
  redis.on('ready', () => monitor.recovered())
  // Every failed (re)connect attempt emits 'error'; the monitor turns them into one line per
  // transition plus a rate-limited reminder. Without a listener ioredis prints each to stderr.
  redis.on('error', (err: NodeJS.ErrnoException) => monitor.failed(err.code, shortMessage(err)))
  redis.on('close', () => { if (monitor.up && !closing) monitor.failed('ECONNRESET', 'connection closed') })
  app.addHook('onClose', async () => {
    closing = true
    monitor.stop()
    // QUIT only on a live connection: on a dead one it rejects ("Connection is closed.") and
    // would turn a clean shutdown into exit 1.
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
    else redis.disconnect()
  })
  try {
    await redis.connect()
  } catch (err) {
    if (!closing) monitor.failed((err as NodeJS.ErrnoException).code, shortMessage(err))
  }
  return { redis, monitor }
}
