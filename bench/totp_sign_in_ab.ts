/**
 * What TOTP adds to a hosted sign-in, for two builds side by side (e.g. main and a branch, each a
 * built worktree): both servers run at once, and the sign-in pairs (password alone, password +
 * TOTP; ./totp_sign_in.ts) alternate between them, and within a pair which arm goes first, so a
 * shared machine's load drift hits both builds alike (separate `npm run bench` runs minutes apart
 * do not compare on a busy machine). Not part of `npm run bench`:
 *
 *   BENCH_AB_ROOTS=/work/wt/base,/work/wt/branch BENCH_TOTP_PAIRS=60 flock /work/wt/bench.lock tsx bench/totp_sign_in_ab.ts
 *
 * Prints per build the median of the paired differences (the client's, and Stamp's own from its
 * request-duration histogram where the build's rig reads it) and the TOTP arm's per-request medians.
 *
 * @module
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { TOTPSignInRig } from './totp_sign_in.js'

const roots = (process.env.BENCH_AB_ROOTS ?? '').split(',').filter(Boolean)
if (roots.length < 2) throw new Error('BENCH_AB_ROOTS: two or more built worktrees, comma-separated')
const N = Number(process.env.BENCH_TOTP_PAIRS ?? 60)
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
// BENCH_AB_SERVER_TIME=1: also Stamp's own time, from /metrics read around every sign-in (those
// reads perturb the client's figure, so builds compare fairly only with it on for both or neither).
const METRICS_TOKEN = process.env.BENCH_AB_SERVER_TIME ? 'bench-ab-metrics-token-0123456789abcdef' : undefined
// An older build's rig answers a number (the client's ms) and reads no server time.
type Timing = number | { ms: number, serverMs?: number }
const clientMs = (t: Timing) => typeof t === 'number' ? t : t.ms
const serverMs = (t: Timing) => typeof t === 'number' ? undefined : t.serverMs
const arms: Array<{ name: string, database: { drop(): Promise<void> }, server: { stop(): Promise<void> }, rig: TOTPSignInRig, added: number[], plain: number[], withTOTP: number[], serverAdded: number[] }> = []
for (const root of roots) {
  const { generateKEKValue } = await import(root + '/src/crypto/kek.ts')
  const { createDatabase, migrateAndSeed } = await import(root + '/bench/database.ts')
  const { freePort, startServer } = await import(root + '/bench/processes.ts')
  const { totpSignInRig } = await import(root + '/bench/totp_sign_in.ts')
  const database = await createDatabase()
  const seed = await migrateAndSeed(database.url)
  const kek = generateKEKValue()
  const server = await startServer({ DATABASE_URL: database.url, PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_ENABLED: 'false', ...(METRICS_TOKEN ? { METRICS_TOKEN } : {}), KEY_ENCRYPTION_KEY: kek, KEYS_DIR: mkdtempSync(join(tmpdir(), 'ab-')) })
  const rig = await totpSignInRig({ base: server.url, databaseUrl: database.url, keyEncryptionKey: kek, seed, users: N + 1, metricsToken: METRICS_TOKEN })
  await rig.signIn(rig.passwordUser); await rig.signIn(rig.totpUsers[N].username, rig.totpUsers[N].secret)
  rig.steps.passwordPost.length = 0; rig.steps.factorPage.length = 0; rig.steps.factorPost.length = 0
  arms.push({ name: basename(root), database, server, rig, added: [] as number[], plain: [] as number[], withTOTP: [] as number[], serverAdded: [] as number[] })
}
for (let i = 0; i < N; i++) {
  // Which build goes first, and within a pair which arm, alternate.
  const order = i % 2 ? [...arms].reverse() : arms
  for (const a of order) {
    const { username, secret } = a.rig.totpUsers[i]
    let p: Timing, q: Timing
    if ((i >> 1) % 2) { p = await a.rig.signIn(a.rig.passwordUser); q = await a.rig.signIn(username, secret) } else { q = await a.rig.signIn(username, secret); p = await a.rig.signIn(a.rig.passwordUser) }
    a.plain.push(clientMs(p)); a.withTOTP.push(clientMs(q)); a.added.push(clientMs(q) - clientMs(p))
    const sp = serverMs(p)
    const sq = serverMs(q)
    if (sp !== undefined && sq !== undefined) a.serverAdded.push(sq - sp)
  }
}
for (const a of arms) {
  const s = a.rig.steps
  const server = a.serverAdded.length ? `, Stamp's own time ${med(a.serverAdded).toFixed(2)} ms` : ''
  console.log(`${a.name}: added ${med(a.added).toFixed(2)} ms${server} (median of ${N} pairs); password alone ${med(a.plain).toFixed(2)}, with TOTP ${med(a.withTOTP).toFixed(2)}; TOTP arm: password POST ${med(s.passwordPost).toFixed(2)}, factor GET ${med(s.factorPage).toFixed(2)}, factor POST ${med(s.factorPost).toFixed(2)}`)
  await a.server.stop(); await a.database.drop()
}
