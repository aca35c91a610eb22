/**
 * Two real Stamp processes (`node dist/server.js`) on one database, rotating every 2 s, under a
 * verifier loop that issues tokens from both instances alternately and verifies each one with a
 * JWKS cache that honours max-age and never refetches early (not even on an unknown kid).
 * Expected: zero failed verifications, one rotation per interval (never two), both instances
 * switch to each new key within a refresh interval or so, and they serve the same JWKS.
 *
 * Runs against dist/: `npm ci` builds it (CI runs npm ci before npm test); after changing src,
 * run `npx tsc -p tsconfig.json` first.
 *
 * @module
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose'
import pg from 'pg'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { generateClientSecret, hashClientSecret } from '../../src/domain/client_auth.js'

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..')
const INTERVAL = 2 // KEY_ROTATION_INTERVAL, seconds
const MAX_AGE = 1 // JWKS_MAX_AGE
const REFRESH = 0.2 // KEY_REFRESH_INTERVAL
const RUN_MS = 12_000
const SLACK = 1 // seconds of average scheduling lag tolerated per rotation beyond one refresh tick
const ISSUER = 'http://stamp.multi'

function freePort (): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => res(port))
    }).on('error', rej)
  })
}

async function waitReady (base: string, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}):\n${log()}`)
    try { if ((await fetch(`${base}/jwks`)).ok) return } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`server at ${base} did not start:\n${log()}`)
}

t.test('two instances, scheduled rotation every 2 s, verifier loop: zero failures, one rotation per interval', async (t) => {
  const url = await createTestDatabase(t)
  const kek = generateKEKValue()
  const secret = generateClientSecret()
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  await db.query(`INSERT INTO clients (client_id, name, secret_hash, grant_types, scopes, audiences, updated_at)
    VALUES ('multi', 'multi', $1, '{client_credentials}', '{read}', '{https://api.example.com}', now())`, [hashClientSecret(secret)])
  const basic = 'Basic ' + Buffer.from(`multi:${secret}`).toString('base64')

  // Both start at once on an empty key table: the advisory lock must stop them creating keys twice.
  const instances = await Promise.all([0, 1].map(async () => {
    const port = await freePort()
    let output = ''
    const proc = spawn(process.execPath, [resolve(ROOT, 'dist/server.js')], {
      env: {
        PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: url, KEY_ENCRYPTION_KEY: kek, ISSUER,
        LOG_LEVEL: process.env.STAMP_TEST_LOG_LEVEL ?? 'warn', KEY_ROTATION_INTERVAL: String(INTERVAL), JWKS_MAX_AGE: String(MAX_AGE), KEY_REFRESH_INTERVAL: String(REFRESH),
        ACCESS_TOKEN_TTL: '10', REFRESH_TOKEN_TTL: '60', RATE_LIMIT_ENABLED: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    proc.stdout!.on('data', (d) => { output += d })
    proc.stderr!.on('data', (d) => { output += d })
    t.teardown(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
    const base = `http://127.0.0.1:${port}`
    await waitReady(base, proc, () => output)
    return { base, proc, log: () => output }
  }))
  const initial = await db.query('SELECT status FROM signing_keys')
  t.equal(initial.rowCount! >= 2 && initial.rows.filter((r) => r.status === 'active').length, 1, 'one active key after both started')

  // A verifier's JWKS cache: refetched only when max-age has passed, from alternating instances.
  let cache: { jwks: JWTVerifyGetKey, expires: number } | undefined
  let fetches = 0
  async function jwks (): Promise<JWTVerifyGetKey> {
    if (!cache || Date.now() >= cache.expires) {
      const res = await fetch(`${instances[fetches++ % 2].base}/jwks`)
      const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1] ?? 0)
      // Freshness counted from receipt, the latest a cache could start it: the hardest case for us.
      const body = await res.json() as JSONWebKeySet
      cache = { jwks: createLocalJWKSet(body), expires: Date.now() + maxAge * 1000 }
    }
    return cache.jwks
  }
  const options = { issuer: ISSUER, audience: 'https://api.example.com', typ: 'at+jwt', algorithms: ['RS256'] }

  const failures: string[] = []
  const recent: { token: string, at: number }[] = []
  // First time each instance signed with each kid, and the order in which it used them.
  const firstSeen = [new Map<string, number>(), new Map<string, number>()]
  const sequences: string[][] = [[], []]
  let issued = 0
  let verified = 0
  let counter = 0
  const start = Date.now()
  async function worker (): Promise<void> {
    while (Date.now() - start < RUN_MS) {
      const i = counter++ % 2
      const res = await fetch(`${instances[i].base}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=read',
      })
      const at = Date.now()
      if (res.status !== 200) { failures.push(`token from ${i}: ${res.status} ${await res.text()}`); continue }
      const token = (await res.json() as { access_token: string }).access_token
      issued++
      const kid = decodeProtectedHeader(token).kid!
      if (!firstSeen[i].has(kid)) { firstSeen[i].set(kid, at); sequences[i].push(kid) }
      // Verify the fresh token, and one issued up to 8 s ago (tokens live 10 s).
      const older = recent.find((r) => at - r.at < 8000)
      for (const candidate of [token, older?.token]) {
        if (!candidate) continue
        try {
          await jwtVerify(candidate, await jwks(), options)
          verified++
        } catch (err) {
          failures.push(`${(err as Error).message} (kid ${decodeProtectedHeader(candidate).kid}, instance ${i})`)
        }
      }
      recent.push({ token, at })
      if (recent.length > 500) recent.splice(0, 250)
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  const elapsed = (Date.now() - start) / 1000

  // Both serve the same JWKS (retry: a rotation may land between the two requests).
  let same = false
  for (let i = 0; i < 10 && !same; i++) {
    const [a, b] = await Promise.all(instances.map((inst) => fetch(`${inst.base}/jwks`).then((r) => r.headers.get('etag'))))
    same = a === b
    if (!same) await new Promise((r) => setTimeout(r, 100))
  }
  t.ok(same, 'both instances serve the same JWKS')
  if (process.env.STAMP_TEST_LOG_LEVEL) for (const inst of instances) t.comment(inst.log())
  const stopped = Date.now()
  for (const inst of instances) inst.proc.kill('SIGTERM')
  await Promise.all(instances.map((inst) => new Promise((r) => inst.proc.exitCode !== null ? r(null) : inst.proc.once('exit', r))))

  t.same(failures, [], `zero failed verifications (${verified} verifications of ${issued} tokens, ${fetches} JWKS fetches)`)
  t.ok(issued > 50, `the loop ran (${issued} tokens)`)

  const { rows } = await db.query('SELECT kid, status, created_at, activated_at FROM signing_keys ORDER BY created_at')
  const activations = rows.filter((r) => r.activated_at).map((r) => ({ kid: r.kid as string, at: (r.activated_at as Date).getTime() })).sort((a, b) => a.at - b.at)
  const rotations = activations.length - 1
  t.equal(rows.filter((r) => r.status === 'active').length, 1, 'exactly one active key')
  t.equal(rows.filter((r) => r.status === 'next').length, 1, 'exactly one next key')
  t.equal(rows.length, rotations + 2, 'one new key per rotation: no key was created in a race')
  const gaps = activations.slice(1).map((a, i) => a.at - activations[i].at)
  t.ok(gaps.every((g) => g >= INTERVAL * 1000), `never two rotations within one interval (gaps ${gaps.join(', ')} ms)`)
  // A scheduled rotation fires on the first tick after it is due, so each one may lag by a refresh
  // interval plus the transaction time, and on a loaded host by a key generation (SLACK).
  const window = (stopped - activations[0].at) / 1000
  t.ok(rotations <= Math.floor(window / INTERVAL), `at most one rotation per interval (${rotations} in ${window.toFixed(1)} s)`)
  t.ok(rotations >= Math.floor(window / (INTERVAL + REFRESH + SLACK)) - 1, `and no interval skipped (${rotations} rotations, ${(window / INTERVAL).toFixed(1)} intervals)`)

  // Each instance switched to each new active key soon after it was activated, and never went back.
  const lags: number[] = []
  for (const { kid, at } of activations.slice(1)) {
    for (const seen of firstSeen) {
      const first = seen.get(kid)
      if (first !== undefined) lags.push(first - at)
    }
  }
  const order = activations.map((a) => a.kid)
  for (const [i, seq] of sequences.entries()) {
    const positions = seq.map((kid) => order.indexOf(kid))
    t.ok(positions.every((p, j) => j === 0 || p > positions[j - 1]), `instance ${i} used the keys in rotation order, never an older one again`)
  }
  const maxLag = Math.max(...lags)
  t.ok(lags.length >= rotations, 'every new key was seen in use')
  t.ok(maxLag < 3000, `every instance signed with each new key within ${maxLag} ms of its activation`)
  t.comment(`rotations: ${rotations} in ${window.toFixed(1)} s (interval ${INTERVAL} s); gaps ms: ${gaps.join(' ')}`)
  t.comment(`switch lag ms (first token with the new kid after activation, both instances): ${lags.sort((a, b) => a - b).join(' ')}`)
})
