/**
 * Database connection: the configured PostgreSQL, or an embedded one (PGlite) for a newcomer.
 *
 * Both are reached through the same code path (pg + @prisma/adapter-pg). PGlite behind
 * pglite-socket is ONE shared backend session, so the embedded pool is capped at one connection
 * and the socket server allows two (a closing socket plus its replacement).
 *
 * @module
 */
import { mkdirSync, openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
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

/** PGlite does not lock its data directory; two processes opening it would corrupt it. */
function takePidLock (path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => { try { unlinkSync(path) } catch {} }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = Number(readFileSync(path, 'utf8'))
      if (owner && isAlive(owner)) {
        throw new Error(`embedded database ${path} is in use by process ${owner}; set DATABASE_URL to share a database between processes`)
      }
      unlinkSync(path) // stale lock from a process that died
    }
  }
  throw new Error(`could not lock ${path}`)
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
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
