/**
 * Database connection: the configured PostgreSQL, or an embedded one (PGlite) for a newcomer.
 *
 * Both are reached through the same code path (pg + @prisma/adapter-pg). PGlite is ONE shared
 * backend session: `embedded_socket.ts` serves it on loopback one transaction at a time, and the
 * embedded pool is capped at one connection. A running server records that socket in
 * `DATA_DIR/embedded.json`, so the CLI can work beside it (`openDatabase(…, { beside: true })`).
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, openSync, closeSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '../generated/prisma/client.js'

export interface Database {
  url: string
  embedded: boolean
  /** Connections each pool may open; 1 on the embedded database. */
  poolMax: number
  /** Reached through a running server's socket: the server owns (and has migrated) the database. */
  beside?: boolean
  /** Embedded only: records the socket in DATA_DIR so CLI commands can work beside this process. */
  share?(): void
  close(): Promise<void>
}

export interface OpenOptions {
  /** When a server runs on the embedded database, use its socket instead of failing (the CLI). */
  beside?: boolean
}

export async function openDatabase (options: { databaseUrl?: string, dataDir: string }, open: OpenOptions = {}): Promise<Database> {
  if (options.databaseUrl) {
    // Enough connections for a busy refresh path (one or two short statements per request);
    // PostgreSQL's default max_connections (100) leaves room for several instances.
    return { url: options.databaseUrl, embedded: false, poolMax: 20, close: async () => {} }
  }
  return openEmbedded(resolve(options.dataDir), open)
}

/** Where a running server records its embedded-database socket (mode 0600: it holds the password). */
export function addressFile (dataDir: string): string {
  return join(resolve(dataDir), 'embedded.json')
}

async function openEmbedded (dataDir: string, open: OpenOptions): Promise<Database> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const lockPath = join(dataDir, 'stamp.pid')
  let releaseLock: () => void
  for (let waited = 0; ; waited += 100) {
    try {
      releaseLock = takePidLock(lockPath)
      break
    } catch (err) {
      // The CLI: use the running server's socket; wait a little for a server that is still
      // starting (it records the socket once migrated) or another CLI command to finish.
      if (!open.beside || waited >= 10_000) throw err
      const beside = besideServer(dataDir, (err as { owner?: number }).owner)
      if (beside) return beside
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  try {
    const [{ PGlite }, { serveEmbedded }] = await Promise.all([import('@electric-sql/pglite'), import('./embedded_socket.js')])
    const db = await PGlite.create(join(dataDir, 'pglite'))
    const socket = await serveEmbedded(db, { password: randomBytes(24).toString('base64url') })
    const address = addressFile(dataDir)
    let shared = false
    return {
      url: socket.url,
      embedded: true,
      poolMax: 1,
      share () {
        const tmp = `${address}.${process.pid}.tmp`
        writeFileSync(tmp, JSON.stringify({ pid: process.pid, url: socket.url }) + '\n', { mode: 0o600 })
        renameSync(tmp, address)
        shared = true
      },
      async close () {
        if (shared) try { unlinkSync(address) } catch {}
        await socket.stop()
        await db.close()
        releaseLock()
      },
    }
  } catch (err) {
    releaseLock()
    throw err
  }
}

/** The database of the server holding the lock, through the socket it recorded; null if none. */
function besideServer (dataDir: string, owner: number | undefined): Database | null {
  if (!owner) return null
  try {
    const recorded = JSON.parse(readFileSync(addressFile(dataDir), 'utf8')) as { pid: number, url: string }
    if (recorded.pid === owner) return { url: recorded.url, embedded: true, poolMax: 1, beside: true, close: async () => {} }
  } catch {}
  return null
}

/** Lock files this process holds: its own pid in a lock it does not hold is a predecessor's. */
const heldLocks = new Set<string>()

/**
 * PGlite does not lock its data directory; two processes opening it would corrupt it. The lock
 * file names its owner by pid, process start time and boot id: a pid alone goes stale in the
 * usual way, a container restart, where the new process is again pid 1 (or reuses another pid).
 */
function takePidLock (path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      try { writeSync(fd, JSON.stringify(lockRecord(process.pid))) } finally { closeSync(fd) }
      heldLocks.add(path)
      return () => {
        heldLocks.delete(path)
        try { unlinkSync(path) } catch {}
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = lockOwner(path)
      if (owner !== undefined) {
        throw Object.assign(new Error(`embedded database ${path} is in use by process ${owner}, which does not share it (a CLI command, or a server still starting); try again, or set DATABASE_URL to share a database between processes`), { owner })
      }
      unlinkSync(path) // stale lock from a process that died
    }
  }
  throw new Error(`could not lock ${path}`)
}

interface LockRecord { pid: number, start?: string, boot?: string }

function lockRecord (pid: number): LockRecord {
  return { pid, start: processStartTicks(pid), boot: bootId() }
}

/** The pid of the live process that holds the lock at `path`, or undefined when it is stale. */
function lockOwner (path: string): number | undefined {
  let text: string
  let writtenAt: number
  try {
    text = readFileSync(path, 'utf8')
    writtenAt = statSync(path).mtimeMs
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined // released meanwhile
    throw err
  }
  let record: LockRecord
  try {
    // Older versions wrote the bare pid.
    record = /^\d+$/.test(text.trim()) ? { pid: Number(text) } : JSON.parse(text) as LockRecord
  } catch {
    return undefined // unreadable: not a lock any live Stamp wrote
  }
  const { pid } = record
  if (!Number.isSafeInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined
  if (pid === process.pid) return heldLocks.has(path) ? pid : undefined
  const current = lockRecord(pid)
  if (record.boot && current.boot && record.boot !== current.boot) return undefined // written before a reboot
  if (record.start && current.start) return record.start === current.start ? pid : undefined
  // A bare pid: the process with that pid started after the lock was written, so it is not its owner.
  const started = processStartedAt(current.start)
  if (started !== undefined && started > writtenAt + 1000) return undefined
  return pid
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot (Linux; undefined elsewhere). */
function processStartTicks (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** Start ticks as epoch milliseconds: boot time from /proc/stat, USER_HZ 100 (fixed in Linux's ABI). */
function processStartedAt (ticks: string | undefined): number | undefined {
  if (ticks === undefined) return undefined
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))
    return btime ? Number(btime[1]) * 1000 + Number(ticks) * 10 : undefined
  } catch {
    return undefined
  }
}

function bootId (): string | undefined {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() } catch { return undefined }
}

/**
 * The pg pool that Prisma runs on. The statements on every login and refresh use it directly:
 * Prisma's query layer costs about three times pg's own client-side CPU per query (≈ 160 vs
 * 45 µs here), and a named statement is parsed and planned once per connection.
 */
export function createPool (database: Pick<Database, 'url' | 'poolMax'> & { connectTimeoutMs?: number }): pg.Pool {
  // A bounded connect: against a blackholed database (partition, dead host) a request otherwise
  // waits forever for its connection instead of being answered 503. Keep-alive lets the kernel
  // notice a peer that vanished under an idle pooled connection.
  const pool = new pg.Pool({ connectionString: database.url, max: database.poolMax, connectionTimeoutMillis: database.connectTimeoutMs ?? 5_000, keepAlive: true })
  // An idle connection that PostgreSQL ends (restart, failover) is reported here; unhandled, the
  // event would crash the process. The pool drops it and the next query opens a new one.
  pool.on('error', () => {})
  return pool
}

/**
 * A Prisma client on `pool` (the caller then ends the pool after `$disconnect()`), or on a pool
 * of its own that `$disconnect()` ends.
 */
export function createPrisma (database: Pick<Database, 'url' | 'poolMax'>, pool?: pg.Pool): PrismaClient {
  const adapter = pool ? new PrismaPg(pool) : new PrismaPg(createPool(database), { disposeExternalPool: true })
  return new PrismaClient({ adapter })
}

export type { PrismaClient }
