/**
 * The access token of a request: `Authorization: Bearer` (RFC 6750 §2.1) or, where DPoP is
 * accepted, `Authorization: DPoP` (RFC 9449 §7.1), shared by the Fastify plugin and the
 * node:http helper.
 *
 * @module
 */
import { RequestInvalid, TokenMissing, type AuthScheme } from './errors.js'

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=". The scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i
const BEARER_SCHEME = /^Bearer(?: |$)/i

/**
 * The token from an `Authorization` header (RFC 6750 §2.1, the only method this plugin accepts:
 * tokens in query strings leak into logs, §2.3).
 *
 * @param header the raw `Authorization` header value
 * @throws {@link TokenMissing} when there is no bearer credential at all
 * @throws {@link RequestInvalid} when the Bearer credential is malformed
 */
export function bearerToken (header: string | undefined): string {
  if (!header || !BEARER_SCHEME.test(header)) throw new TokenMissing()
  const match = BEARER.exec(header)
  if (!match) throw new RequestInvalid()
  return match[1]
}

// RFC 9449 §7.1: token68 after the DPoP scheme, the same syntax as Bearer.
const DPOP = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i
const DPOP_SCHEME = /^DPoP(?: |$)/i

/**
 * The scheme and token of an `Authorization` header: Bearer always, DPoP when `dpop` is on.
 *
 * @throws {@link TokenMissing} when there is no credential of an accepted scheme
 * @throws {@link RequestInvalid} when the credential is malformed
 */
export function authorizationCredentials (header: string | undefined, dpop: boolean): { scheme: AuthScheme, token: string } {
  if (dpop && header && DPOP_SCHEME.test(header)) {
    const match = DPOP.exec(header)
    if (!match) {
      const err = new RequestInvalid('the Authorization header is not a valid DPoP credential')
      err.scheme = 'DPoP'
      throw err
    }
    return { scheme: 'DPoP', token: match[1] }
  }
  return { scheme: 'Bearer', token: bearerToken(header) }
}
