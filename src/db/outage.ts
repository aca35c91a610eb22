/**
 * Which errors mean "the database cannot be reached right now" (an outage the client should retry
 * after), as opposed to a bug or a constraint violation. The one error handler (`app.ts`) asks
 * this for every unexpected error, so routes and storage never need to.
 *
 * The same outage reaches us in several shapes, depending on where it surfaced:
 * - pg and the socket: errno codes (`ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`…) and pg-pool's
 *   messages ("timeout exceeded when trying to connect", "Connection terminated unexpectedly");
 * - PostgreSQL itself: SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down,
 *   crashed, starting up), 53300 (too many connections);
 * - Prisma: P1001/P1002/P1008/P1017, P2024 (pool timeout), and its driver adapter's error kinds
 *   (`DatabaseNotReachable`, `ConnectionClosed`, `SocketTimeout`, `TooManyConnections`).
 *
 * @module
 */

const ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/
const PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024'])
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseDoesNotExist'])
const MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /connection terminated/i,
  /Client has encountered a connection error/i,
  /Connection ended unexpectedly/i,
  /the database system is (starting up|shutting down)/i,
]

interface ErrorLike { code?: unknown, kind?: unknown, message?: unknown, cause?: unknown, meta?: { driverAdapterError?: unknown } }

/**
 * The code that identifies the outage (an errno, a SQLSTATE, a Prisma code or adapter kind), or
 * undefined when `err` is not a connection problem. The most specific code wins: the socket's
 * errno over Prisma's summary of it.
 */
export function databaseOutageCode (err: unknown): string | undefined {
  const found: string[] = []
  const seen = new Set<unknown>()
  const visit = (value: unknown, depth: number) => {
    if (!value || typeof value !== 'object' || seen.has(value) || depth > 6) return
    seen.add(value)
    const e = value as ErrorLike
    const code = typeof e.code === 'string' ? e.code : undefined
    if (code && (ERRNO.has(code) || SQLSTATE.test(code))) found.push(code)
    if (typeof e.kind === 'string') {
      if (ADAPTER_KINDS.has(e.kind)) found.push(e.kind)
      // The adapter wraps PostgreSQL's own errors as kind "postgres" with the SQLSTATE in `code`.
      const original = (e as { originalCode?: unknown }).originalCode
      if (typeof original === 'string' && (ERRNO.has(original) || SQLSTATE.test(original))) found.push(original)
    }
    if (code && PRISMA.has(code)) found.push(code)
    if (typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))) found.push('connection_lost')
    visit(e.cause, depth + 1)
    visit(e.meta?.driverAdapterError, depth + 1)
  }
  visit(err, 0)
  if (found.length === 0) return undefined
  const rank = (c: string) => ERRNO.has(c) ? 0 : SQLSTATE.test(c) ? 1 : ADAPTER_KINDS.has(c) ? 2 : PRISMA.has(c) ? 3 : 4
  return found.sort((a, b) => rank(a) - rank(b))[0]
}

export function isDatabaseUnavailable (err: unknown): boolean {
  return databaseOutageCode(err) !== undefined
}

/** The last line of an error message (Prisma's start with a code frame), bounded for a log line. */
export function shortMessage (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean)
  return (lines.at(-1) ?? '').slice(0, 200)
}
