/**
 * Token issuance for a client ID metadata document client (its document cached) against a
 * pre-registered client of the same kind, both loaded at the same time (half the connections each): both public, third-party, code flow, refreshing their
 * tokens in rotating chains (`grant_type=refresh_token` with `client_id` alone). The only
 * difference is how the client is found: a row, or a URL whose document is cached.
 *
 * The document is served over https from this process (a self-signed certificate made with
 * openssl for `localhost`, trusted by the server through NODE_EXTRA_CA_CERTS), to a second Stamp
 * server started with CLIENT_METADATA_ALLOW_LOOPBACK=true on the same database and keys. Chains
 * start from codes obtained by a scripted sign-in and consent over plain HTTP.
 *
 * @module
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { Seed } from './database.js'
import { refreshScenario, runLoad, type LoadResult, type LoadSettings } from './load.js'
import { freePort, startServer } from './processes.js'
import { pairedRatioCheck, type Check } from './report.js'

const FORM = 'application/x-www-form-urlencoded'
const REDIRECT_URI = 'http://127.0.0.1:9/callback'

export interface ClientMetadataBench { preRegistered: LoadResult[], cimd: LoadResult[], check: Check }

/** A cookie-keeping HTTP client that scripts sign-in and consent. */
class Browser {
  readonly #cookies = new Map<string, string>()
  readonly base: string
  constructor (base: string) { this.base = base }

  async request (url: string, form?: Record<string, string>): Promise<{ status: number, location: string | null, body: string }> {
    const response = await fetch(url.startsWith('http') ? url : this.base + url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: { cookie: [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; '), ...(form ? { 'content-type': FORM } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair.indexOf('=')
      this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    return { status: response.status, location: response.headers.get('location'), body: await response.text() }
  }

  /** Follows redirects inside Stamp, signing in and allowing consent on the way; the code. */
  async code (clientId: string, challenge: string, user: Seed['user']): Promise<string> {
    const query = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256' })
    let page = await this.request(`/authorize?${query}`)
    for (let hops = 0; hops < 10; hops++) {
      if (page.location?.startsWith(REDIRECT_URI)) {
        const code = new URL(page.location).searchParams.get('code')
        if (!code) throw new Error(`no code: ${page.location}`)
        return code
      }
      if (page.location) { page = await this.request(page.location); continue }
      const fields = Object.fromEntries([...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], m[2].replace(/&amp;/g, '&')]))
      if (page.body.includes('name="password"')) page = await this.request('/login', { ...fields, username: user.username, password: user.password })
      else if (page.body.includes('name="decision"')) page = await this.request('/consent', { ...fields, decision: 'allow' })
      else throw new Error(`unexpected page ${page.status}: ${page.body.slice(0, 300)}`)
    }
    throw new Error('too many redirects')
  }

  async refreshToken (clientId: string, user: Seed['user']): Promise<string> {
    const verifier = randomBytes(32).toString('base64url')
    const code = await this.code(clientId, createHash('sha256').update(verifier).digest('base64url'), user)
    const token = await this.request('/token', { grant_type: 'authorization_code', client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT_URI })
    if (token.status !== 200) throw new Error(`code exchange answered ${token.status}: ${token.body}`)
    return (JSON.parse(token.body) as { refresh_token: string }).refresh_token
  }
}

export async function benchClientMetadata (options: {
  databaseUrl: string
  keyEncryptionKey: string
  keysDir: string
  seed: Seed
  settings: LoadSettings
  rounds: number
  step: (message: string) => void
}): Promise<ClientMetadataBench> {
  const { seed, settings, rounds, step } = options
  const dir = mkdtempSync(join(tmpdir(), 'stamp-bench-cimd-'))
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })]
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    let clientId = ''
    let fetches = 0
    const documents = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
      fetches++
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' })
      res.end(JSON.stringify({ client_id: clientId, client_name: 'Bench agent', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' }))
    })
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => documents.close(() => resolve())))
    clientId = `https://localhost:${(documents.address() as AddressInfo).port}/client.json`

    // The pre-registered twin: public, third-party, code flow, the same scopes.
    const preRegistered = 'bench-public-app'
    const db = new pg.Client({ connectionString: options.databaseUrl })
    await db.connect()
    try {
      await db.query(`INSERT INTO clients (client_id, name, public, first_party, grant_types, redirect_uris, scopes, audiences, require_pkce, updated_at)
        VALUES ($1, 'Bench public app', true, false, $2, $3, $4, '{}', true, now()) ON CONFLICT DO NOTHING`,
      [preRegistered, ['authorization_code', 'refresh_token'], [REDIRECT_URI], ['openid', 'profile', 'email', 'offline_access']])
    } finally {
      await db.end()
    }

    writeFileSync(join(dir, 'ca.pem'), readFileSync(join(dir, 'cert.pem')))
    const port = await freePort()
    const server = await startServer({
      DATABASE_URL: options.databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', RATE_LIMIT_ENABLED: 'false',
      KEY_ENCRYPTION_KEY: options.keyEncryptionKey, KEYS_DIR: options.keysDir,
      CLIENT_METADATA_ALLOW_LOOPBACK: 'true', NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
    })
    cleanups.push(() => server.stop())
    step(`cimd: stamp server with metadata documents from ${clientId}`)

    const browser = new Browser(server.url)
    const half: LoadSettings = { ...settings, connections: Math.max(1, Math.floor(settings.connections / 2)) }
    const chains = async (id: string) => {
      const pool: string[] = []
      for (let i = 0; i < half.connections; i++) pool.push(await browser.refreshToken(id, seed.user))
      return pool
    }
    const preRuns: LoadResult[] = []
    const cimdRuns: LoadResult[] = []
    for (let round = 1; round <= rounds; round++) {
      step(`cimd: ${half.connections} chains each for the pre-registered and the metadata document client (round ${round}/${rounds})`)
      const prePool = await chains(preRegistered)
      const cimdPool = await chains(clientId)
      // Both at once, half the connections each: on a shared machine whose speed moves by a third
      // from one run to the next, only a concurrent run sees the same conditions for both.
      step(`stamp: refresh_token, pre-registered and metadata document client (document cached) side by side (round ${round}/${rounds})`)
      const [pre, cimd] = await Promise.all([
        runLoad(refreshScenario(server.url, { publicClientId: preRegistered }, prePool, 'refresh (pre-registered)'), half),
        runLoad(refreshScenario(server.url, { publicClientId: clientId }, cimdPool, 'refresh (CIMD)'), half),
      ])
      preRuns.push(pre)
      cimdRuns.push(cimd)
    }
    step(`cimd: the document was fetched ${fetches} time(s) in all`)
    const check = pairedRatioCheck('refresh_token (CIMD client)', cimdRuns.map((r, i) => [r.mean, preRuns[i].mean]), 'pre-registered client', 0.9)
    return { preRegistered: preRuns, cimd: cimdRuns, check }
  } finally {
    while (cleanups.length) {
      try { await cleanups.pop()!() } catch {}
    }
  }
}
