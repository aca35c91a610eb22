/**
 * Prints the SQL that Prisma's schema engine generates between two Prisma schemas, like
 * `prisma migrate diff --from-empty|--from-schema A --to-schema B --script`.
 *
 * The Rust schema engine cannot be downloaded on our machines, so this runs the npm-published
 * WebAssembly build (`@prisma/schema-engine-wasm`), instantiated by hand because its entry
 * module imports a `.wasm` file, which Node cannot load. The engine insists on a live
 * connection even for schema-to-schema diffs (it only reads): `--url` names one, otherwise a
 * throw-away in-memory PGlite is served over TCP on 127.0.0.1 for the duration of the diff
 * (its initdb costs ~5 s; `--url postgresql://postgres@127.0.0.1:5432/postgres` takes ~2 s).
 *
 * Pinned to prisma 7.10.0's engine build (7.10.0-4.0edf323…): 7.10.1's engine commit has no
 * published wasm build; the later 8.1.0-2 wasm gives the same SQL for our schema.
 *
 * Usage: tsx scripts/migration_diff.ts [--from-empty | --from OLD.prisma] [--to prisma/schema.prisma]
 *        [--url postgresql://…]
 *
 * Use the output as the next `prisma/migrations/<UTC timestamp>_<name>/migration.sql`. A diff
 * from the empty schema additionally starts with `CREATE SCHEMA IF NOT EXISTS "public"`, which
 * `prisma migrate dev` leaves out of a first migration (its shadow database already has it).
 *
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import type { DiffTarget, SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg'

/** A Prisma schema file: its path (shown in engine errors) and text. */
export interface SchemaFile { path: string, content: string }

export interface MigrationDiffOptions {
  /** Starting point; null means the empty database. */
  from: SchemaFile | null
  /** Desired end state. */
  to: SchemaFile
  /** A PostgreSQL the engine may connect to (read only); omitted: an in-memory PGlite. */
  connectionString?: string
}

type EngineModule = typeof import('@prisma/schema-engine-wasm/schema_engine_bg')

/** Node has WebAssembly, but lib ES2023 with @types/node 20 does not declare it. */
interface WasmApi {
  instantiate (bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi }

let engineModule: Promise<EngineModule> | undefined

/** The wasm-bindgen glue keeps the instance in module state, so instantiate it once. */
function loadEngineModule (): Promise<EngineModule> {
  engineModule ??= (async () => {
    const require = createRequire(import.meta.url)
    const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')
    const glue: EngineModule = await import(pathToFileURL(gluePath).href)
    const bytes = readFileSync(gluePath.replace(/\.js$/, '.wasm'))
    const { instance } = await wasmApi.instantiate(bytes, { './schema_engine_bg.js': glue })
    glue.__wbg_set_wasm(instance.exports)
    ;(instance.exports.__wbindgen_start as () => void)()
    return glue
  })()
  return engineModule
}

/** Starts an in-memory PGlite behind a TCP socket; returns its URL and a stop function. */
async function startThrowAwayPglite (): Promise<{ url: string, stop: () => Promise<void> }> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  const db = await PGlite.create()
  // Port 0 avoids clashes; 2 connections survive pg-pool replacing a client after an error.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 })
  await server.start()
  return {
    url: `postgresql://postgres@${server.getServerConn()}/postgres?sslmode=disable`,
    stop: async () => { await server.stop(); await db.close() }
  }
}

/** Returns the SQL script that takes a database from `from` to `to`. */
export async function migrationDiff (options: MigrationDiffOptions): Promise<string> {
  const glue = await loadEngineModule()
  const pglite = options.connectionString === undefined ? await startThrowAwayPglite() : undefined
  // Our own pool, so we can end it: the engine never disposes its adapter.
  const pool = new pg.Pool({ connectionString: options.connectionString ?? pglite?.url, max: 1 })
  let engine: SchemaEngine | undefined
  try {
    const warnings: string[] = []
    const onLog = (line: string): void => {
      if (/"level":"(WARN|ERROR)"/.test(line)) warnings.push(line)
    }
    const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool))
    engine = await glue.SchemaEngine.new(
      { datamodels: [[options.to.path, options.to.content]] }, onLog, adapter)
    const target = (file: SchemaFile | null): DiffTarget =>
      file === null ? { tag: 'empty' } : { tag: 'schemaDatamodel', files: [file] }
    const result = await engine.diff({
      from: target(options.from),
      to: target(options.to),
      script: true,
      exitCode: null,
      filters: { externalTables: [], externalEnums: [] }
    })
    for (const warning of warnings) process.stderr.write(`schema engine: ${warning}\n`)
    return result.stdout ?? ''
  } finally {
    engine?.free()
    await pool.end()
    await pglite?.stop()
  }
}

/** Reads a schema file, keeping the path as given for the engine's error messages. */
export function readSchemaFile (path: string): SchemaFile {
  return { path, content: readFileSync(path, 'utf8') }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      'from-empty': { type: 'boolean', default: false },
      from: { type: 'string' },
      to: { type: 'string', default: 'prisma/schema.prisma' },
      url: { type: 'string' }
    }
  })
  if (values['from-empty'] && values.from !== undefined) {
    throw new Error('pass either --from-empty or --from <schema>, not both')
  }
  const sql = await migrationDiff({
    from: values.from === undefined ? null : readSchemaFile(values.from),
    to: readSchemaFile(values.to),
    connectionString: values.url
  })
  // The engine says "-- This is an empty migration." when the schemas agree.
  process.stdout.write(sql)
}

/** True when this file is the entry point (not imported, e.g. by the drift test). */
function isMain (): boolean {
  try {
    return process.argv[1] !== undefined &&
      realpathSync(resolve(process.argv[1])) === realpathSync(new URL(import.meta.url))
  } catch {
    return false
  }
}

if (isMain()) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  })
}
