/**
 * One check at the edge for every route: a C0 control character or DEL (RFC 5234 `CTL`) in a
 * query parameter, a path parameter, a parsed body (form or JSON, names and values) or a Basic
 * credential is `invalid_request`. No OAuth parameter admits them (RFC 6749 Appendix A: the
 * values are VSCHAR/NQCHAR/UNICODECHARNOCRLF), and a NUL would otherwise reach PostgreSQL, which
 * refuses it in text with an error that used to surface as a 500.
 *
 * It runs as a preValidation hook, after the body is parsed and before any schema or handler, so
 * the admin API's JSON bodies get the same answer as the form endpoints.
 *
 * @module
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InvalidRequest } from '../errors.js'
import { parseBasic } from '../domain/client_auth.js'

const CONTROL = /[\u0000-\u001f\u007f]/
/** A percent-encoded control character in a raw query string (what queryOf and Fastify decode). */
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i
const MAX_DEPTH = 64

/** True when a string, or any key or string inside an object or array, has a control character. */
export function containsControl (value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return CONTROL.test(value)
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return false
  for (const key of Object.keys(value)) {
    if (CONTROL.test(key) || containsControl((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

function offendingPart (request: FastifyRequest): string | undefined {
  const q = request.url.indexOf('?')
  if (q !== -1) {
    const raw = request.url.slice(q + 1)
    if (ENCODED_CONTROL.test(raw) || CONTROL.test(raw)) return 'a query parameter'
  }
  if (containsControl(request.params)) return 'a path parameter'
  if (containsControl(request.body)) return 'a request parameter'
  const authorization = request.headers.authorization
  if (authorization !== undefined && /^basic /i.test(authorization.trimStart())) {
    const credentials = parseBasic(authorization)
    if (credentials && (CONTROL.test(credentials.id) || CONTROL.test(credentials.secret))) return 'the client credentials'
  }
  return undefined
}

export default fp(async function inputHygiene (app: FastifyInstance) {
  // Callback style: this runs on every request, and an async hook costs a promise each time.
  app.addHook('preValidation', (request, _reply, done) => {
    const part = offendingPart(request)
    done(part ? new InvalidRequest(`${part} contains a control character`) : undefined)
  })
}, { name: 'input-hygiene' })
