/**
 * Deployment settings, read once from the environment and validated at boot.
 *
 * One JSON schema (env-schema, the loader behind @fastify/env) for the server and the CLI alike;
 * a bad value stops the process with a message naming the variable. Nothing else reads
 * `process.env`.
 *
 * @module
 */
import envSchema from 'env-schema'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { defaults, SIGNING_ALGS, type Policy, type SigningAlg } from './defaults.js'

/** The environment schema; its descriptions generate the README's configuration table. */
export const envSchemaDefinition = {
  type: 'object',
  required: [],
  additionalProperties: true,
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 4000, description: 'TCP port to listen on.' },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Interface to bind; `0.0.0.0` in containers.' },
    ISSUER: { type: 'string', pattern: '^https?://[^?#]+$', description: 'Public issuer URL (RFC 8414 §2); default `http://localhost:$PORT`. Behind a proxy, the public https URL.' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://', description: 'PostgreSQL connection URL. Unset: an embedded PostgreSQL (PGlite) in `DATA_DIR`, for one process.' },
    DATA_DIR: { type: 'string', minLength: 1, default: './data', description: 'Where the embedded database lives when `DATABASE_URL` is unset.' },
    KEYS_DIR: { type: 'string', minLength: 1, default: './keys', description: 'Where the key-encryption key file `kek` is created (mode 0600) when `KEY_ENCRYPTION_KEY` is unset.' },
    KEY_ENCRYPTION_KEY: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: '32 random bytes, base64url: the KEK that seals private signing keys (AES-256-GCM). Use this in production.' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'pino log level.' },
    TRUST_PROXY: { type: 'string', default: 'false', description: 'Which peers may set `X-Forwarded-*`: `false`, `true` (any peer), a hop count, or comma-separated addresses/CIDRs of your proxies.' },
    SHUTDOWN_TIMEOUT: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 10, description: 'Seconds a SIGTERM/SIGINT drain may take before the process exits anyway.' },
    WORKERS: { type: 'integer', minimum: 1, maximum: 256, description: 'Worker processes for `stamp serve` (default: one per CPU; 1 on the embedded database).' },
    INSTANCE_NAME: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'When set, responses carry `x-stamp-instance` (debugging a load balancer).' },
    ACCESS_TOKEN_TTL: { type: 'integer', minimum: 10, maximum: 86_400, default: defaults.accessTokenTTL, description: 'Access token lifetime, seconds.' },
    REFRESH_TOKEN_TTL: { type: 'integer', minimum: 60, maximum: 31_536_000, default: defaults.refreshTokenTTL, description: 'Refresh token lifetime, seconds.' },
    REFRESH_GRACE_SECONDS: { type: 'integer', minimum: 0, maximum: 60, description: 'Deprecated: read as `REFRESH_RETRY_SECONDS` when that is unset (the grace window issued a second live token; the retry window hands out the same successor).' },
    REFRESH_RETRY_SECONDS: { type: 'integer', minimum: 0, maximum: 60, default: defaults.refreshRetrySeconds, description: 'Seconds after a refresh during which the same client presenting the same refresh token again (a retry after a lost answer or a crashed instance) gets the same successor back instead of a reuse revocation; 0 = strict reuse detection.' },
    REFRESH_FAMILY_MAX_AGE: { type: 'integer', minimum: 60, maximum: 31_536_000, default: defaults.refreshFamilyMaxAge, description: 'Absolute lifetime of a refresh-token family (one login), seconds, however often it is refreshed (30 days).' },
    SIGNING_ALG: { type: 'string', enum: [...SIGNING_ALGS], default: defaults.signingAlg, description: 'Algorithm of newly generated signing keys.' },
    JWKS_MAX_AGE: { type: 'integer', minimum: 0, maximum: 86_400, default: defaults.jwksMaxAge, description: '`Cache-Control: max-age` of the JWKS, seconds; a next key is published at least this long before it signs.' },
    KEY_ROTATION_INTERVAL: { type: 'integer', minimum: 1, default: defaults.keyRotationInterval, description: 'Scheduled key rotation interval, seconds (30 days).' },
    KEY_REFRESH_INTERVAL: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: defaults.keyRefreshInterval, description: 'How often each instance re-reads the key set, seconds.' },
    REDIS_URL: { type: 'string', pattern: '^rediss?://', description: 'Redis for rate-limit counters shared by all instances; unset: in memory per instance.' },
    RATE_LIMIT_ENABLED: { type: 'boolean', default: defaults.rateLimit.enabled, description: 'Per-IP rate limits on /token, /revoke, /introspect, /admin, /authorize, /userinfo and the login form.' },
    RATE_LIMIT_WINDOW: { type: 'integer', minimum: 1, maximum: 86_400, default: defaults.rateLimit.window, description: 'Rate-limit window, seconds.' },
    RATE_LIMIT_TOKEN_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.token, description: 'Requests per window and IP to /token, /revoke, /introspect.' },
    RATE_LIMIT_ADMIN_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.admin, description: 'Requests per window and IP to /admin.' },
    RATE_LIMIT_LOGIN_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.login, description: 'Requests per window and IP to the login form.' },
    RATE_LIMIT_AUTHORIZE_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.authorize, description: 'Requests per window and IP to /authorize (each may park a sign-in request).' },
    RATE_LIMIT_USERINFO_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.userinfo, description: 'Requests per window and IP to /userinfo.' },
    LOGIN_THROTTLE_FREE_ATTEMPTS: { type: 'integer', minimum: 1, maximum: 1000, default: defaults.loginThrottle.freeAttempts, description: 'Failed logins per username and IP before exponential back-off starts.' },
    LOGIN_THROTTLE_MAX_DELAY: { type: 'integer', minimum: 1, maximum: 86_400, default: defaults.loginThrottle.maxDelay, description: 'Longest back-off, seconds (no permanent lock-out).' },
    PASSWORD_MIN_LENGTH: { type: 'integer', minimum: 8, maximum: 128, default: defaults.password.minLength, description: 'Minimum password length for users without a second factor (NIST SP 800-63B-4: 15 for single-factor use; common passwords are refused regardless).' },
    PASSWORD_MIN_LENGTH_MFA: { type: 'integer', minimum: 8, maximum: 128, default: defaults.password.minLengthWithSecondFactor, description: 'Minimum password length for users with a second factor (passkey or TOTP; NIST SP 800-63B-4: 8).' },
    MFA: { type: 'string', enum: ['off', 'optional', 'required'], default: defaults.mfa.mode, description: 'Second factors: `off` (never asked, not offered), `optional` (asked once a user enrolled one), `required` (every user; one without a factor enrols at the next sign-in). Clients (`--require-mfa`) and users can require it too.' },
    METRICS_TOKEN: { type: 'string', minLength: 32, description: 'Bearer token for `/metrics`; unset: no metrics endpoint.' },
    CONSOLE: { type: 'boolean', default: true, description: 'Serve the admin console at `/console` (it signs in as the `stamp-console` client, which Stamp registers for itself; disable that client to turn sign-in off).' },
    API_DOCS: { type: 'boolean', default: false, description: 'Serve the Swagger UI at `/docs` (under a strict CSP). Off: only the OpenAPI document at `/docs/json`.' },
    DATABASE_CONNECT_TIMEOUT: { type: 'number', exclusiveMinimum: 0, maximum: 300, default: 5, description: 'Seconds to wait for a new PostgreSQL connection; past it the request is answered 503 `temporarily_unavailable`.' },
    CLOCK_SKEW_MAX: { type: 'number', exclusiveMinimum: 0, maximum: 86_400, default: 30, description: 'Largest tolerated difference, seconds, between this process clock and PostgreSQL\'s; beyond it `/readyz` fails and key rotation refuses.' },
    PURGE_INTERVAL: { type: 'integer', minimum: 0, maximum: 604_800, default: defaults.purge.interval, description: 'Seconds between retention passes (±10 % jitter; one instance at a time works); 0 = never scheduled (run `stamp purge`).' },
    PURGE_MARGIN: { type: 'integer', minimum: 60, maximum: 31_536_000, default: defaults.purge.margin, description: 'Seconds a consumed, revoked or expired refresh token, an ended or expired session and an expired code are kept before retention deletes them.' },
    AUDIT_RETENTION_DAYS: { type: 'integer', minimum: 0, maximum: 36_500, default: defaults.purge.auditRetention / 86_400, description: 'Days audit events are kept; 0 keeps all.' },
    PURGE_BATCH_SIZE: { type: 'integer', minimum: 1, maximum: 100_000, default: defaults.purge.batchSize, description: 'Rows per retention DELETE statement.' },
    PURGE_TIME_BUDGET: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: defaults.purge.timeBudget, description: 'Seconds one retention pass may work; the rest waits for the next pass.' },
    CLIENT_ID_METADATA_DOCUMENTS: { type: 'boolean', default: true, description: 'Accept an https URL as `client_id` and fetch its client ID metadata document (MCP clients); `false` turns it off.' },
    CLIENT_METADATA_ALLOW_LOOPBACK: { type: 'boolean', default: false, description: 'Let client metadata documents and client JWKS (`jwks_uri`) be fetched from loopback addresses. Development and tests only: never in production (SSRF).' },
    FEDERATION_ALLOW_LOOPBACK: { type: 'boolean', default: false, description: 'Let upstream identity providers (`stamp idp`) be reached on loopback addresses and over plain http. Development and tests only.' },
    FEDERATION_ALLOW_PRIVATE_NETWORKS: { type: 'boolean', default: false, description: 'Let upstream identity providers live on private network addresses (10/8, 172.16/12, 192.168/16, fc00::/7), e.g. an on-premises Keycloak. Link-local and other special ranges stay refused.' },
    FEDERATION_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 60000, default: defaults.federation.timeoutMs, description: 'Timeout of one request to an upstream identity provider (discovery, keys, token, userinfo), milliseconds.' },
    REGISTRATION: { type: 'string', enum: ['token', 'open', 'off'], default: 'token', description: 'Dynamic client registration at `/register` (RFC 7591): `token` needs an initial access token (`stamp registration token create`), `open` lets anyone register, `off` removes the endpoint.' },
    REGISTRATION_SCOPES: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+( [\\x21\\x23-\\x5B\\x5D-\\x7E]+)*$', default: defaults.registration.scopes.join(' '), description: 'Space-separated scopes that self-registered clients (metadata documents, `/register`) may ask for; `stamp:` scopes are never allowed.' },
    REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: { type: 'boolean', default: defaults.pushedAuthorizationRequests.required, description: 'Every client must push its authorization requests to `/par` first (RFC 9126); off: only clients registered with `--require-par` (or the `fapi2` profile) must.' },
    PAR_TTL: { type: 'integer', minimum: 1, maximum: 600, default: defaults.pushedAuthorizationRequests.ttl, description: 'Lifetime of a pushed authorization request\'s `request_uri`, seconds.' },
    CLIENT_ASSERTION_MAX_LIFETIME: { type: 'integer', minimum: 10, maximum: 3600, default: defaults.clientKeys.assertionMaxLifetime, description: 'Longest accepted private_key_jwt client assertion: its `exp` at most this many seconds ahead.' },
    CLIENT_JWKS_REFETCH_COOLDOWN: { type: 'number', minimum: 0, maximum: 3600, default: defaults.clientKeys.jwksRefetchCooldown, description: 'Seconds between two fetches of a client\'s `jwks_uri` caused by an unknown `kid`.' },
    REGISTRATION_AUDIENCES: { type: 'string', default: '', description: 'Comma-separated RFC 8707 resource URIs (e.g. your MCP servers) that self-registered clients may get tokens for.' },
    SMTP_URL: { type: 'string', pattern: '^smtps?://', description: 'SMTP server for mail (password reset, address verification, invitations), e.g. `smtps://user:pass@mail.example:465`. Unset: mails are written as `.eml` files to `MAIL_OUTBOX_DIR` (a warning at boot).' },
    MAIL_FROM: { type: 'string', minLength: 3, maxLength: 320, description: 'Sender of mails (`Name <address>`); default `"$BRAND_NAME" <no-reply@issuer host>`.' },
    MAIL_OUTBOX_DIR: { type: 'string', minLength: 1, description: 'Where mails go without `SMTP_URL` (one `.eml` file each, mode 0600); default `$DATA_DIR/outbox`.' },
    SIGNUP: { type: 'string', enum: ['off', 'invite', 'open'], default: 'off', description: 'Self-registration at `/signup`: `off`; `invite`: only with an invitation link (`stamp user invite`, admin API); `open`: anyone, with a verified email before the first sign-in.' },
    RATE_LIMIT_ACCOUNT_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.account, description: 'Requests per window and IP to the forms that send mail or create accounts (forgot password, sign-up).' },
    BRAND_NAME: { type: 'string', minLength: 1, maxLength: 60, default: 'Stamp', description: 'Product name on the hosted pages (titles, header, footer) and in mails.' },
    BRAND_LOGO_URL: { type: 'string', pattern: '^https?://[^\\s"\'<>]+$', description: 'Absolute URL of a logo for the hosted pages (added to their CSP `img-src`). Alternative to `BRAND_LOGO_FILE`.' },
    BRAND_LOGO_FILE: { type: 'string', pattern: '\\.(png|svg|jpe?g|webp|gif)$', description: 'Path of a logo file (png, svg, jpg, webp, gif), served at `/assets/logo`. Alternative to `BRAND_LOGO_URL`.' },
    BRAND_PRIMARY_COLOR: { type: 'string', pattern: '^#[0-9A-Fa-f]{6}$', description: 'Primary colour of the hosted pages (`#rrggbb`); shades that keep text and focus rings readable (WCAG contrast) are derived from it.' },
    DPOP_NONCE: { type: 'boolean', default: defaults.dpop.nonce, description: 'Require server-issued nonces in DPoP proofs (RFC 9449 §8): `use_dpop_nonce` and a `DPoP-Nonce` header until a client sends one; stateless, valid on every instance.' },
    DPOP_PROOF_WINDOW: { type: 'integer', minimum: 5, maximum: 600, default: defaults.dpop.proofWindow, description: 'Seconds a DPoP proof\'s `iat` may differ from the server clock; its `jti` is remembered (by every instance) that long.' },
    DPOP_NONCE_LIFETIME: { type: 'integer', minimum: 10, maximum: 86_400, default: defaults.dpop.nonceLifetime, description: 'Seconds each DPoP nonce is issued before the next; one is accepted for twice that long.' },
    DEVICE_CODE_TTL: { type: 'integer', minimum: 60, maximum: 3600, default: defaults.deviceFlow.codeTTL, description: 'Lifetime of a device authorization\'s device code and user code (RFC 8628 §3.2 `expires_in`), seconds.' },
    DEVICE_POLL_INTERVAL: { type: 'integer', minimum: 1, maximum: 60, default: defaults.deviceFlow.interval, description: 'Seconds a device waits between polls of `/token` (RFC 8628 §3.2 `interval`); `slow_down` adds 5 each time.' },
    DEVICE_USER_CODE_LENGTH: { type: 'integer', minimum: 6, maximum: 16, default: defaults.deviceFlow.userCodeLength, description: 'Characters in a device flow user code (shown in two halves, e.g. `BCDF-GHJK`).' },
    DEVICE_USER_CODE_CHARSET: { type: 'string', pattern: '^[A-Z0-9]{10,36}$', default: defaults.deviceFlow.userCodeAlphabet, description: 'Characters user codes are drawn from: distinct upper-case letters and digits (users may type lower case); with the length at least 10^8 codes. The default has no vowels, so no word can be spelled (RFC 8628 §6.1).' },
    DEVICE_VERIFICATION_URI: { type: 'string', pattern: '^https?://[^\\s#]+$', description: 'The `verification_uri` shown to device users (e.g. a short URL that redirects to the issuer\'s `/device`); unset: `ISSUER/device`.' },
  },
} as const

interface RawEnv {
  PORT: number
  HOST: string
  ISSUER?: string
  DATABASE_URL?: string
  DATA_DIR: string
  KEYS_DIR: string
  KEY_ENCRYPTION_KEY?: string
  LOG_LEVEL: string
  TRUST_PROXY: string
  SHUTDOWN_TIMEOUT: number
  WORKERS?: number
  INSTANCE_NAME?: string
  ACCESS_TOKEN_TTL: number
  REFRESH_TOKEN_TTL: number
  REFRESH_GRACE_SECONDS?: number
  REFRESH_RETRY_SECONDS: number
  REFRESH_FAMILY_MAX_AGE: number
  SIGNING_ALG: SigningAlg
  JWKS_MAX_AGE: number
  KEY_ROTATION_INTERVAL: number
  KEY_REFRESH_INTERVAL: number
  REDIS_URL?: string
  RATE_LIMIT_ENABLED: boolean
  RATE_LIMIT_WINDOW: number
  RATE_LIMIT_TOKEN_MAX: number
  RATE_LIMIT_ADMIN_MAX: number
  RATE_LIMIT_LOGIN_MAX: number
  RATE_LIMIT_AUTHORIZE_MAX: number
  RATE_LIMIT_USERINFO_MAX: number
  LOGIN_THROTTLE_FREE_ATTEMPTS: number
  LOGIN_THROTTLE_MAX_DELAY: number
  PASSWORD_MIN_LENGTH: number
  PASSWORD_MIN_LENGTH_MFA: number
  MFA: 'off' | 'optional' | 'required'
  METRICS_TOKEN?: string
  API_DOCS: boolean
  CONSOLE: boolean
  DATABASE_CONNECT_TIMEOUT: number
  CLOCK_SKEW_MAX: number
  PURGE_INTERVAL: number
  PURGE_MARGIN: number
  AUDIT_RETENTION_DAYS: number
  PURGE_BATCH_SIZE: number
  PURGE_TIME_BUDGET: number
  CLIENT_ID_METADATA_DOCUMENTS: boolean
  CLIENT_METADATA_ALLOW_LOOPBACK: boolean
  FEDERATION_ALLOW_LOOPBACK: boolean
  FEDERATION_ALLOW_PRIVATE_NETWORKS: boolean
  FEDERATION_TIMEOUT_MS: number
  REGISTRATION: RegistrationMode
  REGISTRATION_SCOPES: string
  REGISTRATION_AUDIENCES: string
  SMTP_URL?: string
  MAIL_FROM?: string
  MAIL_OUTBOX_DIR?: string
  SIGNUP: SignupMode
  RATE_LIMIT_ACCOUNT_MAX: number
  BRAND_NAME: string
  BRAND_LOGO_URL?: string
  BRAND_LOGO_FILE?: string
  BRAND_PRIMARY_COLOR?: string
  REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: boolean
  PAR_TTL: number
  CLIENT_ASSERTION_MAX_LIFETIME: number
  CLIENT_JWKS_REFETCH_COOLDOWN: number
  DPOP_NONCE: boolean
  DPOP_PROOF_WINDOW: number
  DPOP_NONCE_LIFETIME: number
  DEVICE_CODE_TTL: number
  DEVICE_POLL_INTERVAL: number
  DEVICE_USER_CODE_LENGTH: number
  DEVICE_USER_CODE_CHARSET: string
  DEVICE_VERIFICATION_URI?: string
}

/** off: no /signup; invite: with an invitation link only; open: anyone (verified email required). */
export type SignupMode = 'off' | 'invite' | 'open'

/** token: an initial access token is required; open: anyone may register; off: no /register. */
export type RegistrationMode = 'token' | 'open' | 'off'

export interface Config {
  port: number
  host: string
  /** Issuer identifier (RFC 8414 §2): no trailing slash, no query, no fragment. */
  issuer: string
  /** PostgreSQL URL; absent means the embedded database in `dataDir`. */
  databaseUrl?: string
  dataDir: string
  keysDir: string
  /** base64url of 32 bytes; absent means `keysDir/kek` (created on first start). */
  keyEncryptionKey?: string
  logLevel: string
  /**
   * Which peers may set X-Forwarded-For/-Proto/-Host (Fastify's `trustProxy`): false, true (any
   * peer: only when nothing but the proxy can reach Stamp), a hop count, or addresses/CIDRs.
   */
  trustProxy: TrustProxy
  /**
   * True when ISSUER is unset and TRUST_PROXY is on: the issuer (and every URL built from it) is
   * derived per request from the trusted proxy's X-Forwarded-Proto/-Host. See `http/public_issuer.ts`.
   */
  issuerFromProxy: boolean
  /** Seconds a SIGTERM/SIGINT shutdown may take (drain in-flight requests, close the pool) before exiting anyway. */
  shutdownTimeout: number
  /** Worker processes for `stamp serve`; absent means one per CPU. */
  workers?: number
  /** When set, every response carries `x-stamp-instance` (this name, plus `/worker id` under --workers). */
  instanceName?: string
  /** Redis for shared rate-limit and login-throttle counters; absent means per-instance memory. */
  redisUrl?: string
  /** Bearer token that /metrics requires; absent means /metrics is not served. */
  metricsToken?: string
  /** Serve the Swagger UI at /docs (third-party script on the login origin; off by default). */
  apiDocs: boolean
  /** Serve the admin console at /console (and register its OAuth client). */
  console: boolean
  /** Seconds to wait for a new PostgreSQL connection (pg `connectionTimeoutMillis`). */
  databaseConnectTimeout: number
  /** Largest tolerated |process clock − PostgreSQL clock|, seconds (the clock guard). */
  clockSkewMax: number
  /** Whether an https client_id is resolved by fetching its client ID metadata document. */
  clientMetadataDocuments: boolean
  /** Development and tests only: client metadata documents may be fetched from loopback addresses. */
  clientMetadataAllowLoopback: boolean
  /** Upstream identity providers: loopback and plain http allowed (development, tests), private networks allowed. */
  federation: { allowLoopback: boolean, allowPrivateNetworks: boolean }
  /** Dynamic client registration (RFC 7591) at /register. */
  registration: RegistrationMode
  /** Outgoing mail: SMTP when `smtpUrl` is set, else `.eml` files in `outboxDir`. */
  mail: { smtpUrl?: string, from: string, outboxDir: string }
  signup: SignupMode
  /** Branding of the hosted pages (the logo file is read at boot). */
  brand: BrandConfig
  policy: Policy
  /**
   * The validated environment settings (defaults applied) and which were given, for the admin
   * API's effective-configuration view (config/effective.ts). Absent in hand-built configs.
   */
  settings?: { values: Readonly<Record<string, unknown>>, given: ReadonlySet<string> }
}

export interface BrandConfig {
  productName: string
  logoUrl?: string
  logoFile?: string
  /** `#rrggbb`, lower case. */
  primaryColor?: string
}

export type TrustProxy = boolean | number | string[]

/** Named ranges proxy-addr (Fastify's trustProxy) understands. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/**
 * TRUST_PROXY: `true`/`false`, a hop count (`2`), or a comma-separated list of addresses, CIDRs
 * and the names loopback/linklocal/uniquelocal (`127.0.0.1,10.0.0.0/8`).
 */
export function parseTrustProxy (value: string): TrustProxy {
  const v = value.trim()
  if (v === '' || v === 'false') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) return Number(v)
  const entries = v.split(',').map((e) => e.trim()).filter(Boolean)
  for (const entry of entries) {
    if (PROXY_RANGE_NAMES.has(entry)) continue
    const [address, prefix, extra] = entry.split('/')
    const family = isIP(address)
    const maxPrefix = family === 6 ? 128 : 32
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix)
    if (!family || !prefixOk || extra !== undefined) {
      throw new ConfigError(`invalid configuration: TRUST_PROXY entry "${entry}" is not true, false, a hop count, an IP address, a CIDR range or one of loopback, linklocal, uniquelocal`)
    }
  }
  return entries
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads and validates the environment; throws ConfigError naming the bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  let raw: RawEnv
  try {
    raw = envSchema<RawEnv>({ schema: envSchemaDefinition, data: env, env: false, dotenv: false })
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`)
  }
  const issuer = (raw.ISSUER ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, '')
  const trustProxy = parseTrustProxy(raw.TRUST_PROXY)
  return {
    port: raw.PORT,
    host: raw.HOST,
    issuer,
    databaseUrl: raw.DATABASE_URL,
    dataDir: raw.DATA_DIR,
    keysDir: raw.KEYS_DIR,
    keyEncryptionKey: raw.KEY_ENCRYPTION_KEY,
    logLevel: raw.LOG_LEVEL,
    trustProxy,
    issuerFromProxy: raw.ISSUER === undefined && trustProxy !== false && trustProxy !== 0,
    shutdownTimeout: raw.SHUTDOWN_TIMEOUT,
    workers: raw.WORKERS,
    instanceName: raw.INSTANCE_NAME,
    redisUrl: raw.REDIS_URL,
    metricsToken: raw.METRICS_TOKEN,
    apiDocs: raw.API_DOCS,
    console: raw.CONSOLE,
    databaseConnectTimeout: raw.DATABASE_CONNECT_TIMEOUT,
    clockSkewMax: raw.CLOCK_SKEW_MAX,
    clientMetadataDocuments: raw.CLIENT_ID_METADATA_DOCUMENTS,
    clientMetadataAllowLoopback: raw.CLIENT_METADATA_ALLOW_LOOPBACK,
    federation: { allowLoopback: raw.FEDERATION_ALLOW_LOOPBACK, allowPrivateNetworks: raw.FEDERATION_ALLOW_PRIVATE_NETWORKS },
    registration: raw.REGISTRATION,
    mail: {
      smtpUrl: raw.SMTP_URL,
      from: raw.MAIL_FROM ?? `"${raw.BRAND_NAME.replace(/["\\\r\n]/g, '')}" <no-reply@${new URL(issuer).hostname}>`,
      outboxDir: raw.MAIL_OUTBOX_DIR ?? join(raw.DATA_DIR, 'outbox'),
    },
    signup: raw.SIGNUP,
    brand: brandConfig(raw),
    settings: {
      values: Object.fromEntries(Object.keys(envSchemaDefinition.properties).map((name) => [name, (raw as unknown as Record<string, unknown>)[name]])),
      given: new Set(Object.keys(envSchemaDefinition.properties).filter((name) => env[name] !== undefined)),
    },
    policy: {
      ...defaults,
      accessTokenTTL: raw.ACCESS_TOKEN_TTL,
      refreshTokenTTL: raw.REFRESH_TOKEN_TTL,
      // REFRESH_GRACE_SECONDS (deprecated) still sets the window when REFRESH_RETRY_SECONDS is not given.
      refreshRetrySeconds: env.REFRESH_RETRY_SECONDS === undefined && raw.REFRESH_GRACE_SECONDS !== undefined ? raw.REFRESH_GRACE_SECONDS : raw.REFRESH_RETRY_SECONDS,
      refreshFamilyMaxAge: raw.REFRESH_FAMILY_MAX_AGE,
      signingAlg: raw.SIGNING_ALG,
      jwksMaxAge: raw.JWKS_MAX_AGE,
      keyRotationInterval: raw.KEY_ROTATION_INTERVAL,
      keyRefreshInterval: raw.KEY_REFRESH_INTERVAL,
      password: { ...defaults.password, minLength: raw.PASSWORD_MIN_LENGTH, minLengthWithSecondFactor: raw.PASSWORD_MIN_LENGTH_MFA },
      mfa: { ...defaults.mfa, mode: raw.MFA },
      loginThrottle: { ...defaults.loginThrottle, freeAttempts: raw.LOGIN_THROTTLE_FREE_ATTEMPTS, maxDelay: raw.LOGIN_THROTTLE_MAX_DELAY },
      registration: { ...defaults.registration, ...registrationLists(raw) },
      clientKeys: { ...defaults.clientKeys, assertionMaxLifetime: raw.CLIENT_ASSERTION_MAX_LIFETIME, jwksRefetchCooldown: raw.CLIENT_JWKS_REFETCH_COOLDOWN },
      pushedAuthorizationRequests: { required: raw.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS, ttl: raw.PAR_TTL },
      federation: { ...defaults.federation, timeoutMs: raw.FEDERATION_TIMEOUT_MS },
      dpop: { ...defaults.dpop, nonce: raw.DPOP_NONCE, proofWindow: raw.DPOP_PROOF_WINDOW, nonceLifetime: raw.DPOP_NONCE_LIFETIME },
      deviceFlow: deviceFlowConfig(raw),
      rateLimit: {
        enabled: raw.RATE_LIMIT_ENABLED,
        window: raw.RATE_LIMIT_WINDOW,
        token: raw.RATE_LIMIT_TOKEN_MAX,
        admin: raw.RATE_LIMIT_ADMIN_MAX,
        login: raw.RATE_LIMIT_LOGIN_MAX,
        authorize: raw.RATE_LIMIT_AUTHORIZE_MAX,
        userinfo: raw.RATE_LIMIT_USERINFO_MAX,
        account: raw.RATE_LIMIT_ACCOUNT_MAX,
      },
      purge: {
        ...defaults.purge,
        interval: raw.PURGE_INTERVAL,
        margin: raw.PURGE_MARGIN,
        auditRetention: raw.AUDIT_RETENTION_DAYS * 86_400,
        batchSize: raw.PURGE_BATCH_SIZE,
        timeBudget: raw.PURGE_TIME_BUDGET,
      },
    },
  }
}

function brandConfig (raw: RawEnv): BrandConfig {
  if (raw.BRAND_LOGO_URL && raw.BRAND_LOGO_FILE) throw new ConfigError('invalid configuration: set BRAND_LOGO_URL or BRAND_LOGO_FILE, not both')
  if (raw.BRAND_LOGO_URL && !URL.canParse(raw.BRAND_LOGO_URL)) throw new ConfigError('invalid configuration: BRAND_LOGO_URL is not a URL')
  return {
    productName: raw.BRAND_NAME.trim() || 'Stamp',
    logoUrl: raw.BRAND_LOGO_URL,
    logoFile: raw.BRAND_LOGO_FILE,
    primaryColor: raw.BRAND_PRIMARY_COLOR?.toLowerCase(),
  }
}

/** The DEVICE_* settings, checked: a user code space too small to resist guessing stops the boot. */
function deviceFlowConfig (raw: RawEnv): Policy['deviceFlow'] {
  const alphabet = raw.DEVICE_USER_CODE_CHARSET
  if (new Set(alphabet).size !== alphabet.length) throw new ConfigError('invalid configuration: DEVICE_USER_CODE_CHARSET must not repeat a character')
  // RFC 8628 §5.1: user codes must resist guessing within their lifetime; the guard (5 wrong
  // codes per browser, 50 per IP) keeps that true only above a floor.
  if (raw.DEVICE_USER_CODE_LENGTH * Math.log10(alphabet.length) < 8) {
    throw new ConfigError('invalid configuration: DEVICE_USER_CODE_LENGTH and DEVICE_USER_CODE_CHARSET give fewer than 10^8 user codes')
  }
  const uri = raw.DEVICE_VERIFICATION_URI
  if (uri !== undefined && !URL.canParse(uri)) throw new ConfigError('invalid configuration: DEVICE_VERIFICATION_URI is not a URL')
  return {
    ...defaults.deviceFlow,
    codeTTL: raw.DEVICE_CODE_TTL,
    interval: raw.DEVICE_POLL_INTERVAL,
    userCodeLength: raw.DEVICE_USER_CODE_LENGTH,
    userCodeAlphabet: alphabet,
    verificationUri: uri ?? null,
  }
}

/** REGISTRATION_SCOPES and REGISTRATION_AUDIENCES, checked: reserved scopes and non-URI audiences stop the boot. */
function registrationLists (raw: RawEnv): { scopes: string[], audiences: string[] } {
  const scopes = [...new Set(raw.REGISTRATION_SCOPES.split(' '))]
  const reserved = scopes.filter((s) => defaults.registration.reservedScopePrefixes.some((p) => s.startsWith(p)))
  if (reserved.length) throw new ConfigError(`invalid configuration: REGISTRATION_SCOPES must not contain ${reserved.join(', ')} (reserved for administrators)`)
  const audiences = raw.REGISTRATION_AUDIENCES.split(',').map((a) => a.trim()).filter(Boolean)
  for (const audience of audiences) {
    if (!URL.canParse(audience) || audience.includes('#')) throw new ConfigError(`invalid configuration: REGISTRATION_AUDIENCES entry "${audience}" is not an absolute URI without fragment`)
  }
  return { scopes, audiences: [...new Set(audiences)] }
}
