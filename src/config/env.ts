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
import { defaults, SIGNING_ALGS, type Policy, type SigningAlg } from './defaults.js'

const schema = {
  type: 'object',
  required: [],
  additionalProperties: true,
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 4000 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    ISSUER: { type: 'string', pattern: '^https?://[^?#]+$' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    DATA_DIR: { type: 'string', minLength: 1, default: './data' },
    KEYS_DIR: { type: 'string', minLength: 1, default: './keys' },
    KEY_ENCRYPTION_KEY: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    TRUST_PROXY: { type: 'boolean', default: false },
    ACCESS_TOKEN_TTL: { type: 'integer', minimum: 10, maximum: 86_400, default: defaults.accessTokenTTL },
    REFRESH_TOKEN_TTL: { type: 'integer', minimum: 60, maximum: 31_536_000, default: defaults.refreshTokenTTL },
    REFRESH_GRACE_SECONDS: { type: 'integer', minimum: 0, maximum: 60, default: defaults.refreshGraceSeconds },
    SIGNING_ALG: { type: 'string', enum: [...SIGNING_ALGS], default: defaults.signingAlg },
    JWKS_MAX_AGE: { type: 'integer', minimum: 0, maximum: 86_400, default: defaults.jwksMaxAge },
    KEY_ROTATION_INTERVAL: { type: 'integer', minimum: 1, default: defaults.keyRotationInterval },
    KEY_REFRESH_INTERVAL: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: defaults.keyRefreshInterval },
    REDIS_URL: { type: 'string', pattern: '^rediss?://' },
    RATE_LIMIT_ENABLED: { type: 'boolean', default: defaults.rateLimit.enabled },
    RATE_LIMIT_WINDOW: { type: 'integer', minimum: 1, maximum: 86_400, default: defaults.rateLimit.window },
    RATE_LIMIT_TOKEN_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.token },
    RATE_LIMIT_ADMIN_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.admin },
    RATE_LIMIT_LOGIN_MAX: { type: 'integer', minimum: 1, default: defaults.rateLimit.login },
    LOGIN_THROTTLE_FREE_ATTEMPTS: { type: 'integer', minimum: 1, maximum: 1000, default: defaults.loginThrottle.freeAttempts },
    LOGIN_THROTTLE_MAX_DELAY: { type: 'integer', minimum: 1, maximum: 86_400, default: defaults.loginThrottle.maxDelay },
    PASSWORD_MIN_LENGTH: { type: 'integer', minimum: 8, maximum: 128, default: defaults.password.minLength },
    METRICS_TOKEN: { type: 'string', minLength: 32 },
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
  TRUST_PROXY: boolean
  ACCESS_TOKEN_TTL: number
  REFRESH_TOKEN_TTL: number
  REFRESH_GRACE_SECONDS: number
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
  LOGIN_THROTTLE_FREE_ATTEMPTS: number
  LOGIN_THROTTLE_MAX_DELAY: number
  PASSWORD_MIN_LENGTH: number
  METRICS_TOKEN?: string
}

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
  trustProxy: boolean
  /** Redis for shared rate-limit and login-throttle counters; absent means per-instance memory. */
  redisUrl?: string
  /** Bearer token that /metrics requires; absent means /metrics is not served. */
  metricsToken?: string
  policy: Policy
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads and validates the environment; throws ConfigError naming the bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  let raw: RawEnv
  try {
    raw = envSchema<RawEnv>({ schema, data: env, env: false, dotenv: false })
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`)
  }
  const issuer = (raw.ISSUER ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, '')
  return {
    port: raw.PORT,
    host: raw.HOST,
    issuer,
    databaseUrl: raw.DATABASE_URL,
    dataDir: raw.DATA_DIR,
    keysDir: raw.KEYS_DIR,
    keyEncryptionKey: raw.KEY_ENCRYPTION_KEY,
    logLevel: raw.LOG_LEVEL,
    trustProxy: raw.TRUST_PROXY,
    redisUrl: raw.REDIS_URL,
    metricsToken: raw.METRICS_TOKEN,
    policy: {
      ...defaults,
      accessTokenTTL: raw.ACCESS_TOKEN_TTL,
      refreshTokenTTL: raw.REFRESH_TOKEN_TTL,
      refreshGraceSeconds: raw.REFRESH_GRACE_SECONDS,
      signingAlg: raw.SIGNING_ALG,
      jwksMaxAge: raw.JWKS_MAX_AGE,
      keyRotationInterval: raw.KEY_ROTATION_INTERVAL,
      keyRefreshInterval: raw.KEY_REFRESH_INTERVAL,
      password: { ...defaults.password, minLength: raw.PASSWORD_MIN_LENGTH },
      loginThrottle: { ...defaults.loginThrottle, freeAttempts: raw.LOGIN_THROTTLE_FREE_ATTEMPTS, maxDelay: raw.LOGIN_THROTTLE_MAX_DELAY },
      rateLimit: {
        enabled: raw.RATE_LIMIT_ENABLED,
        window: raw.RATE_LIMIT_WINDOW,
        token: raw.RATE_LIMIT_TOKEN_MAX,
        admin: raw.RATE_LIMIT_ADMIN_MAX,
        login: raw.RATE_LIMIT_LOGIN_MAX,
      },
    },
  }
}
