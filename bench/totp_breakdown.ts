/**
 * Where the second sign-in step's time goes, by request: the SQL statements each request of a
 * hosted sign-in runs (pg_stat_statements), the WAL records they write and which of them commit
 * synchronously, and per arm the transactions and WAL flushes of N sign-ins (pg_stat_database,
 * pg_stat_wal). Not part of `npm run bench`: it needs a PostgreSQL of its own with
 * pg_stat_statements preloaded (the cluster-wide WAL counters must not count neighbours), e.g.
 *
 *   BENCH_DATABASE_ADMIN_URL=postgresql://postgres@127.0.0.1:5499/postgres tsx bench/totp_breakdown.ts
 *
 * on a throw-away cluster started with `shared_preload_libraries = 'pg_stat_statements'` and
 * `pg_stat_statements.track_utility = on` (and the extension created in its `postgres` database).
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { generateKEKValue } from '../src/crypto/kek.js'
import { ADMIN_URL, createDatabase, migrateAndSeed } from './database.js'
import { freePort, startServer } from './processes.js'
import { totpSignInRig, type SignInStep } from './totp_sign_in.js'
import { sleep } from './stats.js'

const N = Number(process.env.BREAKDOWN_SIGN_INS ?? 20)

interface Row { query: string, calls: number, rows: number, wal: number }

async function main (): Promise<void> {
  const database = await createDatabase()
  const keysDir = mkdtempSync(join(tmpdir(), 'stamp-breakdown-keys-'))
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  let server: Awaited<ReturnType<typeof startServer>> | undefined
  try {
    const seed = await migrateAndSeed(database.url)
    const keyEncryptionKey = generateKEKValue()
    server = await startServer({
      DATABASE_URL: database.url, PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_ENABLED: 'false', KEY_ENCRYPTION_KEY: keyEncryptionKey, KEYS_DIR: keysDir,
    })
    const rig = await totpSignInRig({ base: server.url, databaseUrl: database.url, keyEncryptionKey, seed, users: 2 * N + 2 })
    const dbid = (await admin.query('SELECT oid FROM pg_database WHERE datname = $1', [database.name])).rows[0].oid as number

    // 0. The HTTP floor: a hosted page that reads nothing (the second-factor page without a request).
    const floor: number[] = []
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now()
      const res = await fetch(`${server.url}/login/factor`, { redirect: 'manual' })
      await res.text()
      floor.push(performance.now() - t0)
    }
    floor.sort((a, b) => a - b)
    console.log(`HTTP floor (GET /login/factor, no request: no SQL): median ${floor[100].toFixed(2)} ms, p10 ${floor[20].toFixed(2)} ms`)
    if (process.env.BREAKDOWN_FLOOR_ONLY) return

    // 1. Per request: statements of one sign-in of each arm (after a warm-up of each).
    await rig.signIn(rig.passwordUser)
    await rig.signIn(rig.totpUsers[0].username, rig.totpUsers[0].secret)
    const perStep = new Map<string, Row[]>()
    let current: string | undefined
    const collect = async () => {
      if (!current) return
      await sleep(50) // nothing of the request is still running
      const { rows } = await admin.query<Row>(`SELECT query, calls::int, rows::int, wal_records::int AS wal FROM pg_stat_statements WHERE dbid = $1 ORDER BY calls DESC, query`, [dbid])
      perStep.set(current, rows)
    }
    const hook = (arm: string) => async (step: SignInStep) => {
      await collect()
      current = `${arm} ${step}`
      await admin.query('SELECT pg_stat_statements_reset()')
    }
    await rig.signIn(rig.passwordUser, undefined, hook('password'))
    await collect()
    current = undefined
    await rig.signIn(rig.totpUsers[1].username, rig.totpUsers[1].secret, hook('totp'))
    await collect()
    for (const [step, rows] of perStep) {
      const statements = rows.reduce((n, r) => n + r.calls, 0)
      console.log(`\n## ${step}: ${statements} statements`)
      for (const r of rows) console.log(`  ${String(r.calls).padStart(2)}× wal=${String(r.wal).padStart(2)} rows=${String(r.rows).padStart(2)}  ${r.query.replace(/\s+/g, ' ').slice(0, 150)}`)
    }

    // 2. Per arm: transactions and WAL flushes over N sign-ins (stats flushed after ≥ 10 s idle).
    const counters = async () => {
      await sleep(11_000)
      const db = (await admin.query('SELECT xact_commit::int AS commits, xact_rollback::int AS rollbacks FROM pg_stat_database WHERE datid = $1', [dbid])).rows[0]
      const wal = (await admin.query('SELECT wal_records::int AS records, wal_write::int AS writes, wal_sync::int AS syncs FROM pg_stat_wal')).rows[0]
      return { ...db, ...wal }
    }
    const perArm = async (name: string, run: (i: number) => Promise<unknown>) => {
      const before = await counters()
      for (let i = 0; i < N; i++) await run(i)
      const after = await counters()
      const per = (k: keyof typeof before) => ((after[k] - before[k]) / N).toFixed(2)
      console.log(`\n${name}, per sign-in (${N}): commits ${per('commits')}, rollbacks ${per('rollbacks')}, WAL records ${per('records')}, WAL writes ${per('writes')}, WAL syncs ${per('syncs')}`)
    }
    await perArm('password alone', () => rig.signIn(rig.passwordUser))
    await perArm('password + TOTP', (i) => rig.signIn(rig.totpUsers[2 + i].username, rig.totpUsers[2 + i].secret))
  } finally {
    await server?.stop()
    await admin.end()
    await database.drop()
    rmSync(keysDir, { recursive: true, force: true })
  }
}

await main()
