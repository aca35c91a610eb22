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
    TRUST_PROXY: { type: 'string', default: 'false' },
    SHUTDOWN_TIMEOUT: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 10 },
    WORKERS: { type: 'integer', minimum: 1, maximum: 256 },
    INSTANCE_NAME: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    ACCESS_TOKEN_TTL: { type: 'integer', minimum: 10, maximum: 86_400, default: defaults.accessTokenTTL },
    REFRESH_TOKEN_TTL: { type: 'integer', minimum: 60, maximum: 31_536_000, default: defaults.refreshTokenTTL },
    REFRESH_GRACE_SECONDS: { type: 'integer', minimum: 0, maximum: 60, default: defaults.refreshGraceSeconds },
    SIGNING_ALG: { type: 'string', enum: [...SIGNING_ALGS], default: defaults.signingAlg },
    JWKS_MAX_AGE: { type: 'integer', minimum: 0, maximum: 86_400, default: defaults.jwksMaxAge },
    KEY_ROTATION_INTERVAL: { type: 'integer', minimum: 1, default: defaults.keyRotationInterval },
    KEY_REFRESH_INTERVAL: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: defaults.keyRefreshInterval },
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
  REFRESH_GRACE_SECONDS: number
  SIGNING_ALG: SigningAlg
  JWKS_MAX_AGE: number
  KEY_ROTATION_INTERVAL: number
  KEY_REFRESH_INTERVAL: number
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
  policy: Policy
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
    raw = envSchema<RawEnv>({ schema, data: env, env: false, dotenv: false })
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
    policy: {
      ...defaults,
      accessTokenTTL: raw.ACCESS_TOKEN_TTL,
      refreshTokenTTL: raw.REFRESH_TOKEN_TTL,
      refreshGraceSeconds: raw.REFRESH_GRACE_SECONDS,
      signingAlg: raw.SIGNING_ALG,
      jwksMaxAge: raw.JWKS_MAX_AGE,
      keyRotationInterval: raw.KEY_ROTATION_INTERVAL,
      keyRefreshInterval: raw.KEY_REFRESH_INTERVAL,
    },
  }
}
