/**
 * The embedded database (PGlite) on a loopback socket that several connections can share safely:
 * the server's own pool and, beside it, the `stamp` CLI.
 *
 * PGlite is ONE backend session. Connections that simply take turns message by message (what
 * pglite-socket does outside explicit transactions) interleave extended-protocol sequences and
 * corrupt each other's results. Here a connection takes the session when it sends a message and
 * keeps it until PGlite answers ReadyForQuery with status `I` (idle: no transaction, no pending
 * extended-protocol sequence) — PgBouncer's transaction pooling. Session state that outlives a
 * transaction is made per connection:
 *
 * - named prepared statements are renamed with a per-connection prefix (the server and the CLI
 *   prepare the same names) and closed when the connection ends;
 * - a connection that ends inside a transaction or a sequence is finished with Sync + ROLLBACK,
 *   so the next one starts from a clean session;
 * - a connection holding the session idle for longer than `holdTimeoutMs` is cut off (rolled
 *   back), so a stopped CLI cannot stall the server.
 *
 * It listens on 127.0.0.1 only and asks for a password (PostgreSQL cleartext authentication,
 * RFC-less but standard protocol 3.0, fine on loopback), so other local users cannot reach the data.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import type { PGlite } from '@electric-sql/pglite'

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608

export interface EmbeddedSocketOptions {
  /** Port on 127.0.0.1; 0 picks a free one (no stale unix-socket file to trip over). */
  port?: number
  password: string
  /** Most connections at once (default 16). */
  maxConnections?: number
  /** How long a connection may hold the session without sending anything (default 30 s). */
  holdTimeoutMs?: number
}

export interface EmbeddedSocket {
  /** The connection URL, password included. */
  url: string
  port: number
  stop(): Promise<void>
}

/** A FIFO mutex over the one PGlite session. */
class SessionLock {
  private holder: Connection | null = null
  private waiters: Array<{ connection: Connection, resolve: () => void }> = []

  heldBy (connection: Connection): boolean { return this.holder === connection }

  async acquire (connection: Connection): Promise<void> {
    if (this.holder === connection) return
    if (!this.holder) { this.holder = connection; return }
    await new Promise<void>((resolve) => this.waiters.push({ connection, resolve }))
  }

  release (connection: Connection): void {
    if (this.holder !== connection) return
    const next = this.waiters.shift()
    this.holder = next?.connection ?? null
    next?.resolve()
  }
}

let connectionIds = 0

class Connection {
  readonly id = ++connectionIds
  private buffer = Buffer.alloc(0)
  private state: 'startup' | 'password' | 'ready' | 'closed' = 'startup'
  private startup: Buffer | null = null
  private working = false
  private readonly statements = new Set<string>()
  private holdTimer: NodeJS.Timeout | undefined

  private readonly socket: Socket
  private readonly db: PGlite
  private readonly lock: SessionLock
  private readonly passwordDigest: Buffer
  private readonly holdTimeoutMs: number
  private readonly onClosed: (connection: Connection) => void

  constructor (socket: Socket, db: PGlite, lock: SessionLock, passwordDigest: Buffer, holdTimeoutMs: number, onClosed: (connection: Connection) => void) {
    this.socket = socket
    this.db = db
    this.lock = lock
    this.passwordDigest = passwordDigest
    this.holdTimeoutMs = holdTimeoutMs
    this.onClosed = onClosed
    socket.setNoDelay(true)
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      void this.pump()
    })
    socket.on('error', () => {})
    socket.on('close', () => { this.close().catch(() => {}) })
  }

  /** Processes complete messages one at a time, in order. */
  private async pump (): Promise<void> {
    if (this.working) return
    this.working = true
    try {
      for (;;) {
        const message = this.next()
        if (!message || this.state === 'closed') break
        await this.handle(message)
      }
    } catch {
      this.socket.destroy()
    } finally {
      this.working = false
    }
  }

  private next (): Buffer | null {
    const untyped = this.state === 'startup'
    const header = untyped ? 4 : 5
    if (this.buffer.length < header) return null
    const length = untyped ? this.buffer.readInt32BE(0) : 1 + this.buffer.readInt32BE(1)
    if (length < header - 1 || length > 64 * 1024 * 1024) throw new Error('bad message length')
    if (this.buffer.length < length) return null
    const message = this.buffer.subarray(0, length)
    this.buffer = this.buffer.subarray(length)
    return message
  }

  private async handle (message: Buffer): Promise<void> {
    if (this.state === 'startup') {
      const code = message.readInt32BE(4)
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) { this.socket.write('N'); return }
      if (code !== PROTOCOL_3) { this.socket.destroy(); return } // CancelRequest and the unknown
      this.startup = Buffer.from(message)
      this.state = 'password'
      this.socket.write(authenticationRequest(3)) // AuthenticationCleartextPassword
      return
    }
    if (this.state === 'password') {
      if (message[0] !== 0x70 /* p */ || !this.passwordMatches(message.subarray(5, message.length - 1))) {
        this.socket.end(errorResponse('28P01', 'password authentication failed for the embedded database'))
        this.state = 'closed'
        return
      }
      this.state = 'ready'
      await this.run(this.startup!, true) // PGlite's AuthenticationOk, ParameterStatus…, ReadyForQuery
      return
    }
    const type = message[0]
    if (type === 0x58 /* X: Terminate */) { this.socket.end(); return }
    await this.run(this.renameStatements(message), type === 0x53 /* S: Sync */ || type === 0x51 /* Q: Query */)
  }

  private passwordMatches (password: Buffer): boolean {
    return timingSafeEqual(createHash('sha256').update(password).digest(), this.passwordDigest)
  }

  /** Runs one message on the session (taking it first); gives it up once PGlite is idle again. */
  private async run (message: Buffer, mayEnd: boolean): Promise<void> {
    await this.lock.acquire(this)
    if (this.state === 'closed') { this.lock.release(this); return }
    clearTimeout(this.holdTimer)
    const output = await this.exec(message)
    if (output.length && this.socket.writable) this.socket.write(output)
    if (mayEnd && idleAfter(output)) {
      this.lock.release(this)
    } else {
      this.holdTimer = setTimeout(() => this.socket.destroy(), this.holdTimeoutMs)
    }
  }

  private async exec (message: Uint8Array): Promise<Buffer> {
    const chunks: Uint8Array[] = []
    await this.db.runExclusive(() => this.db.execProtocolRawStream(message, { onRawData: (data) => { chunks.push(data.slice()) } }))
    return Buffer.concat(chunks)
  }

  /** Parse, Bind, Describe and Close name statements; give this connection's names a prefix. */
  private renameStatements (message: Buffer): Buffer {
    const type = message[0]
    if (type === 0x50 /* P */) {
      const [name, end] = cstring(message, 5)
      if (!name) return message
      this.statements.add(name)
      return rebuild(type, [this.prefixed(name), message.subarray(end)])
    }
    if (type === 0x42 /* B */) {
      const [, portalEnd] = cstring(message, 5)
      const [name, end] = cstring(message, portalEnd)
      if (!name) return message
      return rebuild(type, [message.subarray(5, portalEnd), this.prefixed(name), message.subarray(end)])
    }
    if ((type === 0x44 /* D */ || type === 0x43 /* C */) && message[5] === 0x53 /* S */) {
      const [name, end] = cstring(message, 6)
      if (!name) return message
      if (type === 0x43) this.statements.delete(name)
      return rebuild(type, [Buffer.from('S'), this.prefixed(name), message.subarray(end)])
    }
    return message
  }

  private prefixed (name: string): Buffer {
    return Buffer.from(`c${this.id}_${name}\0`)
  }

  /** Leaves the session as clean as this connection found it, then lets the next one in. */
  async close (): Promise<void> {
    if (this.state === 'closed' && !this.lock.heldBy(this) && !this.statements.size) { this.onClosed(this); return }
    const wasReady = this.state === 'ready'
    this.state = 'closed'
    clearTimeout(this.holdTimer)
    try {
      // A message still running (or waiting for its turn, which it then gives up at once) first.
      while (this.working) await new Promise((resolve) => setTimeout(resolve, 5))
      if (wasReady && (this.lock.heldBy(this) || this.statements.size)) {
        await this.lock.acquire(this)
        await this.exec(typed(0x53, [])) // Sync: ends a pending extended-protocol sequence
        if (this.db.isInTransaction()) await this.exec(typed(0x51, [Buffer.from('ROLLBACK\0')]))
        for (const name of this.statements) await this.exec(typed(0x43, [Buffer.from('S'), this.prefixed(name)]))
        if (this.statements.size) await this.exec(typed(0x53, []))
        this.statements.clear()
      }
    } finally {
      this.lock.release(this)
      this.onClosed(this)
    }
  }

  destroy (): void { this.socket.destroy() }
}

/**
 * Serves `db` on 127.0.0.1 to password-holding PostgreSQL clients, one transaction at a time.
 *
 * @param db an open PGlite
 * @param options port, password, limits
 */
export async function serveEmbedded (db: PGlite, options: EmbeddedSocketOptions): Promise<EmbeddedSocket> {
  const lock = new SessionLock()
  const connections = new Set<Connection>()
  const digest = createHash('sha256').update(options.password).digest()
  const maxConnections = options.maxConnections ?? 16
  const holdTimeoutMs = options.holdTimeoutMs ?? 30_000
  const server: Server = createServer((socket) => {
    if (connections.size >= maxConnections) {
      socket.end(errorResponse('53300', 'too many connections to the embedded database'))
      return
    }
    connections.add(new Connection(socket, db, lock, digest, holdTimeoutMs, (c) => connections.delete(c)))
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `postgresql://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres?sslmode=disable`,
    port,
    async stop () {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const connection of connections) connection.destroy()
      // Each connection rolls back and gives up the session on its own close.
      while (connections.size) await new Promise((resolve) => setTimeout(resolve, 5))
      await closing
    },
  }
}

/** True when the output ends with ReadyForQuery('I'): no transaction, nothing pending. */
function idleAfter (output: Buffer): boolean {
  const n = output.length
  return n >= 6 && output[n - 6] === 0x5a /* Z */ && output.readInt32BE(n - 5) === 5 && output[n - 1] === 0x49 /* I */
}

function cstring (message: Buffer, start: number): [string, number] {
  const end = message.indexOf(0, start)
  if (end < 0) throw new Error('unterminated string in a protocol message')
  return [message.toString('utf8', start, end), end + 1]
}

function typed (type: number, parts: Buffer[]): Buffer {
  return rebuild(type, parts)
}

function rebuild (type: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts)
  const header = Buffer.alloc(5)
  header[0] = type
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

function authenticationRequest (code: number): Buffer {
  const code32 = Buffer.alloc(4)
  code32.writeInt32BE(code)
  return rebuild(0x52 /* R */, [code32])
}

function errorResponse (sqlstate: string, text: string): Buffer {
  return rebuild(0x45 /* E */, [Buffer.from(`SFATAL\0VFATAL\0C${sqlstate}\0M${text}\0\0`)])
}
