/**
 * pino options shared by the server and the CLI: request ids on every request line, and every
 * credential redacted before it reaches a log line.
 *
 * @module
 */
import { stdSerializers, type Bindings, type ChildLoggerOptions, type Logger, type LoggerOptions } from 'pino'

/** Paths pino censors wherever they appear; `*` covers one level of nesting (err, body, params…). */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]',
  'password', 'client_secret', 'secret', 'token', 'access_token', 'refresh_token', 'id_token', 'code', 'code_verifier',
  '*.password', '*.client_secret', '*.secret', '*.token', '*.access_token', '*.refresh_token', '*.id_token', '*.code', '*.code_verifier',
  '*.privateJwk', '*.privateKeyEnc', '*.d', 'kek', '*.kek',
  // Personal data rather than a credential, but never needed in a log line.
  'login_hint', '*.login_hint', 'loginHint', '*.loginHint',
]

/**
 * Query parameters whose values never go into a logged URL: credentials, and `login_hint` /
 * `logout_hint` (personal data: usually an email address).
 */
const SECRET_QUERY_NAMES = new Set([
  'code', 'token', 'access_token', 'refresh_token', 'id_token', 'id_token_hint', 'client_secret', 'password', 'state',
  'code_verifier', 'client_assertion', 'login_hint', 'logout_hint',
])

/** A query parameter's name as the form parser will read it (percent- and `+`-decoded), lower case. */
function parameterName (raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase()
  } catch {
    return undefined // malformed escape: treated as a secret below, whatever it names
  }
}

/**
 * The URL with the values of secret query parameters replaced by `[Redacted]`. Names are matched
 * after percent-decoding: `client%5Fsecret=…` is read as `client_secret` by the server, so it is
 * redacted as one. Names and other parameters stay as sent.
 */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    if (eq === -1) return pair
    const name = parameterName(pair.slice(0, eq))
    return name === undefined || SECRET_QUERY_NAMES.has(name) ? `${pair.slice(0, eq)}=[Redacted]` : pair
  })
  return `${url.slice(0, q)}?${query.join('&')}`
}

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req (req: { method: string, url: string, ip?: string, id?: string }) {
        return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }
      },
      err: errorWithCodes,
    },
  }
}

/** errno names (ECONNRESET), SQLSTATEs (57P01), Prisma codes (P2024): shapes no secret has. */
const ERROR_CODE = /^(E[A-Z0-9_]{2,30}|[0-9A-Z]{5}|P[0-9]{4}|ERR_[A-Z0-9_]{1,60}|FST_[A-Z0-9_]{1,60})$/

/**
 * pino's error serializer, plus the error's code (and its cause's) as `error_code`: `*.code` is
 * redacted because an OAuth `code` parameter is a credential, but an errno or SQLSTATE is what
 * an operator needs to tell an outage from a bug, so it is copied under a name that is not.
 */
export function errorWithCodes (err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>
  const codes: string[] = []
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown, errno?: unknown }).code
    if (typeof code === 'string' && ERROR_CODE.test(code) && !codes.includes(code)) codes.push(code)
  }
  if (codes.length) out.error_code = codes.join(' < ')
  return out
}

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * Fastify's per-request logger, created only when something is logged at an enabled level.
 *
 * Fastify makes a pino child for every request, and with a per-route `logLevel` pino rebuilds
 * every log method of that child: on a cheap route (JWKS, probes) that costs about a tenth of the
 * throughput, for a logger that most requests never use. This stands in for the child with the
 * same bindings and level and makes the real one on first use.
 */
export class LazyChildLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #child?: Logger
  #level: string

  constructor (parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
    this.#level = options.level ?? parent.level
  }

  #real (): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  get level (): string { return this.#level }
  set level (value: string) {
    this.#real().level = value
    this.#level = value
  }

  isLevelEnabled (level: string): boolean {
    const values = this.#parent.levels.values
    return values[level] >= (values[this.#level] ?? Infinity)
  }

  #log (method: LogMethod, args: unknown[]): void {
    if (this.isLevelEnabled(method)) (this.#real()[method] as (...a: unknown[]) => void)(...args)
  }

  fatal (...args: unknown[]): void { this.#log('fatal', args) }
  error (...args: unknown[]): void { this.#log('error', args) }
  warn (...args: unknown[]): void { this.#log('warn', args) }
  info (...args: unknown[]): void { this.#log('info', args) }
  debug (...args: unknown[]): void { this.#log('debug', args) }
  trace (...args: unknown[]): void { this.#log('trace', args) }
  silent (): void {}
  child (bindings: Bindings, options?: ChildLoggerOptions): Logger { return this.#real().child(bindings, options) }
}

/** Fastify `childLoggerFactory`: a {@link LazyChildLogger} for a pino logger, a plain child otherwise. */
export function lazyChildLogger<L extends { child(bindings: Bindings, options?: ChildLoggerOptions): L }> (logger: L, bindings: Bindings, options: ChildLoggerOptions): L {
  const levels = (logger as unknown as Partial<Logger>).levels
  if (!levels) return logger.child(bindings, options)
  return new LazyChildLogger(logger as unknown as Logger, bindings, options) as unknown as L
}
