/**
 * pino options shared by the server and the CLI: request ids on every request line, and every
 * credential redacted before it reaches a log line.
 *
 * @module
 */
import type { LoggerOptions } from 'pino'

/** Paths pino censors wherever they appear; `*` covers one level of nesting (err, body, params…). */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]',
  'password', 'client_secret', 'secret', 'token', 'access_token', 'refresh_token', 'id_token', 'code', 'code_verifier',
  '*.password', '*.client_secret', '*.secret', '*.token', '*.access_token', '*.refresh_token', '*.id_token', '*.code', '*.code_verifier',
  '*.privateJwk', '*.privateKeyEnc', '*.d', 'kek', '*.kek',
]

/** Query parameters whose values never go into a logged URL. */
const SECRET_QUERY = /([?&](?:code|token|access_token|refresh_token|id_token|id_token_hint|client_secret|password|state)=)[^&]*/gi

export function redactUrl (url: string): string {
  return url.replace(SECRET_QUERY, '$1[Redacted]')
}

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req (req: { method: string, url: string, ip?: string, id?: string }) {
        return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }
      },
    },
  }
}
