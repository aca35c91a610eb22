/**
 * What TOTP adds to a hosted sign-in, end to end over HTTP against the bench's server: pairs of
 * sign-ins, one with the password alone and one with the password and a TOTP code, each timed
 * from the password form's POST to the redirect back to the application (the pages before it,
 * /authorize and the login page, are the same for both and not timed). The TOTP arm therefore
 * pays everything the second step costs the server: the password POST's mark and the
 * second-factor page it answers with, and that page's form (POST: lookup, ±1 step check, the
 * atomic step UPDATE, session), with the loopback round trip. (A build whose password form
 * redirects to the page also pays that GET; it is timed as `factorPage`, else 0.)
 *
 * Both arms run argon2 on the password (in both, so it cancels in the difference but adds its
 * noise); the figure is the median of the per-pair differences, pairs alternating which arm runs
 * first. Each TOTP sign-in uses its own user: a code is accepted once per 30-second step and user.
 *
 * Two figures per sign-in: the client's (from sending the password to the redirect's arrival:
 * Stamp's work plus, in the TOTP arm, one more request's trip through the client's HTTP stack and
 * loopback), and Stamp's own (with `metricsToken`: the sum of the server's request durations for
 * the timed requests, read off its `stamp_http_request_duration_seconds` histogram, which runs
 * from the request's arrival in Fastify to the response's end). The second is what TOTP adds to
 * the server's work for a sign-in; the first also carries the browser's second form submission.
 *
 * @module
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { kekFromBase64url, seal } from '../src/crypto/kek.js'
import { totpSecretAAD } from '../src/domain/sealed_values.js'
import { newTOTPSecret, totp } from '../src/domain/totp.js'
import { hashClientSecret } from '../src/domain/client_auth.js'
import type { Seed } from './database.js'

const CALLBACK = 'http://127.0.0.1:9/bench-callback'

export interface TOTPSignInFigures {
  pairs: number
  medianAddedMs: number
  medianPasswordMs: number
  medianTOTPMs: number
  /** The same medians of Stamp's own time (the server's request durations), with `metricsToken`. */
  server?: { medianAddedMs: number, medianPasswordMs: number, medianTOTPMs: number }
  /** Medians of the TOTP arm's three requests: the password POST, the second-factor page, its POST. */
  totpSteps: { passwordPostMs: number, factorPageMs: number, factorPostMs: number }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** A cookie-keeping client for the hosted pages (redirects inspected, not followed). */
class Jar {
  readonly #cookies = new Map<string, string>()
  async request (url: string, form?: Record<string, string>): Promise<{ status: number, location: string | null, body: string }> {
    const headers: Record<string, string> = {}
    if (this.#cookies.size) headers.cookie = [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; ')
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded'
    const res = await fetch(url, { method: form ? 'POST' : 'GET', headers, body: form ? new URLSearchParams(form) : undefined, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair.indexOf('=')
      this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    return { status: res.status, location: res.headers.get('location'), body: await res.text() }
  }
}

function hidden (body: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]] ??= m[2]
  return out
}

/** Which request of a hosted sign-in is about to be sent (bench/totp_breakdown.ts counts per request). */
export type SignInStep = 'authorize' | 'loginPage' | 'passwordPost' | 'factorPage' | 'factorPost'

/** One sign-in's time: the client's (`ms`), and the server's for the same requests (`serverMs`, with `metricsToken`). */
export interface SignInTiming { ms: number, serverMs?: number }

export interface TOTPSignInRig {
  passwordUser: string
  totpUsers: Array<{ username: string, secret: string }>
  /** One hosted sign-in, timed from the password POST to the redirect to the application. */
  signIn (username: string, secret?: string, before?: (step: SignInStep) => Promise<void>): Promise<SignInTiming>
  steps: { passwordPost: number[], factorPage: number[], factorPost: number[] }
}

/** The hosted sign-in's routes whose durations count as the sign-in's server time. */
const SIGN_IN_ROUTES = new Set(['/login', '/login/factor'])

/** Seconds the server spent on the sign-in routes so far: the histogram's sums, added up. */
async function serverSeconds (base: string, token: string): Promise<number> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`TOTP sign-in bench: /metrics answered ${res.status}`)
  let sum = 0
  for (const m of (await res.text()).matchAll(/^stamp_http_request_duration_seconds_sum\{([^}]*)\} (\S+)$/gm)) {
    const route = /route="([^"]*)"/.exec(m[1])?.[1]
    if (route !== undefined && SIGN_IN_ROUTES.has(route)) sum += Number(m[2])
  }
  return sum
}

/** The client, the users (one password-only, `users` with TOTP) and the sign-in of this bench. */
export async function totpSignInRig (options: { base: string, databaseUrl: string, keyEncryptionKey: string, seed: Seed, users: number, metricsToken?: string }): Promise<TOTPSignInRig> {
  const { base, seed } = options
  const pairs = options.users
  const kek = kekFromBase64url(options.keyEncryptionKey)
  const clientId = `bench-web-${randomUUID().slice(0, 8)}`
  const db = new pg.Client({ connectionString: options.databaseUrl })
  await db.connect()
  const totpUsers: Array<{ username: string, secret: string }> = []
  let passwordUser: string
  try {
    await db.query(`INSERT INTO clients (client_id, name, secret_hash, public, first_party, grant_types, scopes, audiences, redirect_uris, require_pkce, updated_at)
      VALUES ($1, 'Bench web app', $2, false, true, $3, $4, $5, $6, false, now())`,
    [clientId, hashClientSecret(randomBytes(16).toString('base64url')), ['authorization_code'], ['read'], ['https://api.example.com'], [CALLBACK]])
    // The seed user's hash: every user here has the same password, so argon2 costs the same in both arms.
    const { password_hash: hash } = (await db.query('SELECT password_hash FROM users WHERE username = $1', [seed.user.username])).rows[0]
    const addUser = async (username: string) => {
      const id = randomUUID()
      await db.query('INSERT INTO users (id, username, password_hash, scopes, updated_at) VALUES ($1, $2, $3, $4, now())', [id, username, hash, ['read']])
      return id
    }
    passwordUser = `bench-pwd-${clientId}`
    await addUser(passwordUser)
    for (let i = 0; i < pairs; i++) {
      const username = `bench-totp-${i}-${clientId}`
      const id = await addUser(username)
      const secret = newTOTPSecret()
      await db.query('INSERT INTO totp_factors (user_id, secret_enc, kek_id, confirmed_at) VALUES ($1, $2, $3, now())', [id, seal(kek, secret, totpSecretAAD(id)), kek.id])
      totpUsers.push({ username, secret })
    }
  } finally {
    await db.end()
  }

  const token = options.metricsToken
  async function signIn (username: string, secret?: string, before?: (step: SignInStep) => Promise<void>): Promise<SignInTiming> {
    const jar = new Jar()
    const q = new URLSearchParams({ client_id: clientId, redirect_uri: CALLBACK, response_type: 'code', scope: 'read', state: createHash('sha256').update(username).digest('hex').slice(0, 16) })
    await before?.('authorize')
    const authorize = await jar.request(`${base}/authorize?${q}`)
    if (!authorize.location) throw new Error(`TOTP sign-in bench: /authorize answered ${authorize.status}`)
    await before?.('loginPage')
    const login = await jar.request(new URL(authorize.location, base).href)
    const serverBefore = token ? await serverSeconds(base, token) : 0
    await before?.('passwordPost')
    const start = performance.now()
    let step = await jar.request(`${base}/login`, { ...hidden(login.body), username, password: seed.user.password })
    if (secret) {
      const t1 = performance.now()
      // The password form answers with the second-factor form itself (an older build redirected to it).
      let factor = step
      let t2 = t1
      let t1b = t1
      if (step.status !== 200) {
        if (!step.location?.includes('/login/factor')) throw new Error(`TOTP sign-in bench: expected the second-factor page, got ${step.status} ${step.location}`)
        await before?.('factorPage')
        t1b = performance.now()
        factor = await jar.request(new URL(step.location, base).href)
        t2 = performance.now()
      }
      if (!factor.body.includes('autocomplete="one-time-code"')) throw new Error(`TOTP sign-in bench: no code field (${factor.status})`)
      await before?.('factorPost')
      const t2b = performance.now()
      step = await jar.request(`${base}/login/factor`, { ...hidden(factor.body), method: 'totp', code: totp(secret, Date.now()) })
      steps.passwordPost.push(t1 - start)
      steps.factorPage.push(t2 - t1b)
      steps.factorPost.push(performance.now() - t2b)
    }
    const elapsed = performance.now() - start
    if (!step.location?.startsWith(CALLBACK) || !new URL(step.location).searchParams.get('code')) throw new Error(`TOTP sign-in bench: no code (${step.status} ${step.location})`)
    // The histogram is observed when a response has ended: the last one's is in before the redirect arrives.
    return { ms: elapsed, serverMs: token ? (await serverSeconds(base, token) - serverBefore) * 1000 : undefined }
  }

  const steps = { passwordPost: [] as number[], factorPage: [] as number[], factorPost: [] as number[] }
  return { passwordUser, totpUsers, signIn, steps }
}

/** Median ms of a GET round trip to `url` from this client (fetch, keep-alive), after a warm-up. */
export async function roundTripMs (url: string, n = 300): Promise<number> {
  const once = async () => { const t0 = performance.now(); await (await fetch(url)).arrayBuffer(); return performance.now() - t0 }
  for (let i = 0; i < 50; i++) await once()
  const xs: number[] = []
  for (let i = 0; i < n; i++) xs.push(await once())
  return median(xs)
}

export async function totpSignInPaired (options: { base: string, databaseUrl: string, keyEncryptionKey: string, seed: Seed, pairs?: number, warmup?: number, metricsToken?: string }): Promise<TOTPSignInFigures> {
  const pairs = options.pairs ?? Number(process.env.BENCH_TOTP_PAIRS ?? 150)
  const warmup = options.warmup ?? Number(process.env.BENCH_TOTP_WARMUP ?? 30)
  const { passwordUser, totpUsers, signIn, steps } = await totpSignInRig({ ...options, users: pairs + warmup })
  // Warm-up pairs, not counted: statements prepared on the connections, both arms' code compiled
  // (on a fresh server the first few dozen sign-ins run slower, the TOTP arm's more so).
  for (let i = 0; i < warmup; i++) {
    await signIn(passwordUser)
    await signIn(totpUsers[pairs + i].username, totpUsers[pairs + i].secret)
  }
  for (const s of Object.values(steps)) s.length = 0
  const plain: SignInTiming[] = []
  const withTOTP: SignInTiming[] = []
  for (let i = 0; i < pairs; i++) {
    const { username, secret } = totpUsers[i]
    if (i % 2 === 0) { plain.push(await signIn(passwordUser)); withTOTP.push(await signIn(username, secret)) } else { withTOTP.push(await signIn(username, secret)); plain.push(await signIn(passwordUser)) }
  }
  const figures = (pick: (t: SignInTiming) => number) => ({
    medianAddedMs: median(plain.map((p, i) => pick(withTOTP[i]) - pick(p))), medianPasswordMs: median(plain.map(pick)), medianTOTPMs: median(withTOTP.map(pick)),
  })
  return {
    pairs,
    ...figures((t) => t.ms),
    server: options.metricsToken ? figures((t) => t.serverMs!) : undefined,
    totpSteps: { passwordPostMs: median(steps.passwordPost), factorPageMs: median(steps.factorPage), factorPostMs: median(steps.factorPost) },
  }
}
