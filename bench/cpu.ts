/**
 * CPU time per request, next to the rates: what the Stamp server process and its PostgreSQL
 * backends spent (user + system, from /proc) divided by the responses of the run. On this shared
 * VM a rate moves by a third between minutes as neighbours come and go; the CPU a request costs
 * moves far less, so two scenarios' costs say what their rate ratio would be on idle cores.
 * Linux only (elsewhere the figures are absent). The PostgreSQL side counts the backends serving
 * the bench database; the cluster's shared WAL writer and checkpointer are not included.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { ADMIN_URL } from './database.js'

/** Microseconds of CPU per response. */
export interface CpuCost { server: number, database: number }

const TICK_MICROS = 1e6 / 100 // USER_HZ is 100 on Linux

/** utime + stime of a process in microseconds, or undefined when it is gone (or no /proc). */
function processMicros (pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_MICROS
  } catch {
    return undefined
  }
}

interface Snapshot { server: number, backends: Map<number, number> }

export class CpuMeter {
  readonly #pid: number
  readonly #database: string

  constructor (serverPid: number, databaseName: string) {
    this.#pid = serverPid
    this.#database = databaseName
  }

  async #snapshot (): Promise<Snapshot | undefined> {
    const server = processMicros(this.#pid)
    if (server === undefined) return undefined
    const client = new pg.Client({ connectionString: ADMIN_URL })
    await client.connect()
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [this.#database])
      const backends = new Map<number, number>()
      for (const { pid } of rows) {
        const micros = processMicros(pid)
        if (micros !== undefined) backends.set(pid, micros)
      }
      return { server, backends }
    } finally {
      await client.end()
    }
  }

  /** Runs `run` and returns its result with the CPU each of its `responses` cost. */
  async measure<T extends { cpu?: CpuCost }> (run: () => Promise<T>, responses: (result: T) => number): Promise<T> {
    const before = await this.#snapshot()
    const result = await run()
    const after = await this.#snapshot()
    const count = responses(result)
    if (!before || !after || count === 0) return result
    let database = 0
    // A backend that appeared during the run counts from zero (its start-up is part of the load).
    for (const [pid, micros] of after.backends) database += micros - (before.backends.get(pid) ?? 0)
    return { ...result, cpu: { server: (after.server - before.server) / count, database: database / count } }
  }
}
