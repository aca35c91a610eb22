/**
 * The admin console's users page on 10,000 users: the server time of one page of
 * GET /admin/users at the page size the console uses (console/src/pages/users.tsx), for the
 * first page, a page deep in the list (by cursor) and a search (`q`), against a 50 ms target.
 *
 * 10,000 users are inserted with one SQL statement (their password hashes are placeholders: none
 * of them signs in). The admin token comes from a client_credentials client holding
 * `stamp:admin`. Requests go one at a time over a keep-alive loopback connection, so a request's
 * latency is the server's time plus a loopback round trip: an upper bound on the server time.
 * Each round times every variant; the figure is the median of the rounds' medians.
 *
 * @module
 */
import pg from 'pg'
import { generateClientSecret, hashClientSecret } from '../src/domain/client_auth.js'
import { median } from './stats.js'
import type { Check } from './report.js'

export const ADMIN_USERS = 10_000
/** USER_PAGE_SIZE in console/src/pages/users.tsx. */
export const CONSOLE_PAGE_SIZE = 50
export const TARGET_MS = 50
const REQUESTS_PER_ROUND = 60

export interface AdminUsersBench { checks: Check[], lines: string[] }

async function seed (databaseUrl: string): Promise<{ id: string, secret: string }> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const client = { id: 'bench-admin', secret: generateClientSecret() }
  try {
    await db.query(`INSERT INTO users (id, username, username_key, email, password_hash, scopes, updated_at)
      SELECT gen_random_uuid(), 'member-' || lpad(i::text, 5, '0'), 'member-' || lpad(i::text, 5, '0'), 'member' || i || '@example.com', 'placeholder', '{}', now()
      FROM generate_series(1, $1) AS i`, [ADMIN_USERS])
    await db.query(`INSERT INTO clients (client_id, name, secret_hash, public, first_party, grant_types, scopes, audiences, updated_at)
      VALUES ($1, 'Bench admin', $2, false, true, '{client_credentials}', '{stamp:admin}', '{}', now())`, [client.id, hashClientSecret(client.secret)])
    await db.query('ANALYZE users')
  } finally {
    await db.end()
  }
  return client
}

async function adminToken (base: string, client: { id: string, secret: string }): Promise<string> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`${client.id}:${client.secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=stamp:admin',
  })
  if (!res.ok) throw new Error(`admin token: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { access_token: string }).access_token
}

async function time (url: string, token: string, count: number): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    const body = await res.json() as { items?: unknown[] }
    samples.push(performance.now() - started)
    if (!res.ok || !Array.isArray(body.items)) throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
  }
  return samples
}

export async function benchAdminUsers (options: { databaseUrl: string, base: string, rounds: number, step: (message: string) => void }): Promise<AdminUsersBench> {
  const { databaseUrl, base, rounds, step } = options
  step(`admin users: seeding ${ADMIN_USERS.toLocaleString('en-US')} users`)
  const client = await seed(databaseUrl)
  const token = await adminToken(base, client)
  const list = `${base}/admin/users?limit=${CONSOLE_PAGE_SIZE}`
  // A cursor three quarters into the list: the console's "next page", many pages on.
  const deep = `${list}&cursor=member-07500`
  const search = `${list}&q=${encodeURIComponent('member-05')}`
  const variants = [
    { name: 'first page', url: list },
    { name: 'page by cursor', url: deep },
    { name: 'search (q)', url: search },
  ]
  await time(list, token, 10) // warm-up: connection, JIT, plan cache
  const medians = new Map<string, number[]>(variants.map((v) => [v.name, []]))
  const p95s = new Map<string, number[]>(variants.map((v) => [v.name, []]))
  for (let round = 1; round <= rounds; round++) {
    step(`admin users: GET /admin/users?limit=${CONSOLE_PAGE_SIZE} on ${ADMIN_USERS.toLocaleString('en-US')} users (round ${round}/${rounds})`)
    for (const v of variants) {
      const samples = (await time(v.url, token, REQUESTS_PER_ROUND)).sort((a, b) => a - b)
      medians.get(v.name)!.push(median(samples))
      p95s.get(v.name)!.push(samples[Math.floor(samples.length * 0.95)])
    }
  }
  const checks: Check[] = []
  const lines: string[] = []
  for (const v of variants) {
    const ms = median(medians.get(v.name)!)
    const p95 = median(p95s.get(v.name)!)
    checks.push({ name: `admin users page: ${v.name}`, value: ms, ceiling: TARGET_MS, ceilingLabel: '', ratio: TARGET_MS / ms, target: 1, pass: ms <= TARGET_MS })
    lines.push(`  ${ms <= TARGET_MS ? 'PASS' : 'MISS'}  admin users page (${ADMIN_USERS.toLocaleString('en-US')} users, limit ${CONSOLE_PAGE_SIZE}), ${v.name.padEnd(15)} median ${ms.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms per page (target ≤ ${TARGET_MS} ms; ${(TARGET_MS / ms).toFixed(1)}× headroom)`)
  }
  return { checks, lines }
}
