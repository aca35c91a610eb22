/**
 * Database connection: the configured PostgreSQL, or an embedded one (PGlite) for a newcomer.
 *
 * Both are reached through the same code path (pg + @prisma/adapter-pg). PGlite behind
 * pglite-socket is ONE shared backend session, so the embedded pool is capped at one connection
 * and the socket server allows two (a closing socket plus its replacement).
 *
 * @module
 */
import { mkdirSync, openSync, closeSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '../generated/prisma/client.js'

export interface Database {
  url: string
  embedded: boolean
  /** Connections each pool may open; 1 on the embedded database. */
  poolMax: number
  close(): Promise<void>
}

export async function openDatabase (options: { databaseUrl?: string, dataDir: string }): Promise<Database> {
  if (options.databaseUrl) {
    // Enough connections for a busy refresh path (one or two short statements per request);
    // PostgreSQL's default max_connections (100) leaves room for several instances.
    return { url: options.databaseUrl, embedded: false, poolMax: 20, close: async () => {} }
  }
  return openEmbedded(resolve(options.dataDir))
}

async function openEmbedded (dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  mkdirSync(dataDir, { recursive: true })
  const releaseLock = takePidLock(join(dataDir, 'stamp.pid'))
  try {
    const db = await PGlite.create(join(dataDir, 'pglite'))
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 })
    await server.start()
    return {
      url: `postgresql://postgres@${server.getServerConn()}/postgres?sslmode=disable`,
      embedded: true,
      poolMax: 1,
      async close () {
        await server.stop()
        await db.close()
        releaseLock()
      },
    }
  } catch (err) {
    releaseLock()
    throw err
  }
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
        throw new Error(`embedded database ${path} is in use by process ${owner}; set DATABASE_URL to share a database between processes`)
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
export function createPool (database: Pick<Database, 'url' | 'poolMax'>): pg.Pool {
  const pool = new pg.Pool({ connectionString: database.url, max: database.poolMax })
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
