/**
 * The bearer token of a request (RFC 6750 §2.1), shared by the Fastify plugin and the node:http
 * helper.
 *
 * @module
 */
import { RequestInvalid, TokenMissing } from './errors.js'

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
