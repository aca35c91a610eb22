/**
 * HTTP load with autocannon, in-process, loopback only: one run per scenario whose first second(s)
 * are warm-up, figures from the rest. Also the four Stamp scenarios.
 *
 * @module
 */
import autocannon from 'autocannon'
import type { Credentials, Seed } from './database.js'
import { mean, median } from './stats.js'
import type { CpuCost } from './cpu.js'

export interface LoadSettings { connections: number, warmupSeconds: number, durationSeconds: number }

export interface LoadResult {
  /** Requests per second: mean and median of the per-second samples of the measured window. */
  mean: number
  median: number
  /** Latency of 2xx responses in the measured window, in milliseconds. */
  p50: number
  p99: number
  /** Responses in the measured window. */
  total: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  seconds: number
  samples: number[]
  /** Non-2xx responses, errors and timeouts during the warm-up (not part of the figures). */
  warmupFailures: number
  /** Every response of the run, warm-up included (what the server did in the whole run). */
  completed: number
  /** Server and database CPU per response, when the run was measured (bench/cpu.ts). */
  cpu?: CpuCost
}

export interface Scenario {
  name: string
  url: string
  /** The autocannon options for the run. */
  options(): Partial<autocannon.Options>
}

/**
 * One continuous autocannon run of warm-up + duration seconds; only responses completed after the
 * warm-up count. (Two separate runs would abandon the warm-up's in-flight requests, which the
 * server then finishes inside the measured window: seconds of work for the password grant.)
 */
export async function runLoad (scenario: Scenario, settings: LoadSettings): Promise<LoadResult> {
  const { warmupSeconds, durationSeconds } = settings
  const latencies: number[] = []
  const buckets = new Array<number>(durationSeconds).fill(0)
  const statusCodes: Record<string, number> = {}
  let non2xx = 0
  let errors = 0
  let timeouts = 0
  let warmupFailures = 0
  let completed = 0
  let started = 0
  const window = (): number => {
    const second = Math.floor((performance.now() - started) / 1000) - warmupSeconds
    return second < durationSeconds ? second : -1
  }

  await new Promise<void>((resolve, reject) => {
    const instance = autocannon({
      url: scenario.url,
      connections: settings.connections,
      pipelining: 1,
      duration: warmupSeconds + durationSeconds,
      timeout: 10,
      ...scenario.options(),
    }, (err: Error | null) => err ? reject(err) : resolve())
    started = performance.now()
    instance.on('response', (_client: autocannon.Client, statusCode: number, _bytes: number, responseTime: number) => {
      completed++
      const second = window()
      const ok = statusCode >= 200 && statusCode < 300
      if (second < 0) {
        if (!ok && performance.now() - started < warmupSeconds * 1000) warmupFailures++
        return
      }
      buckets[second]++
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1
      if (ok) latencies.push(responseTime)
      else non2xx++
    })
    instance.on('reqError', (err: Error) => {
      const second = window()
      if (second < 0) {
        if (performance.now() - started < warmupSeconds * 1000) warmupFailures++
        return
      }
      errors++
      if (err.message === 'request timed out') timeouts++
    })
  })

  latencies.sort((a, b) => a - b)
  const pct = (q: number) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] : 0
  return {
    mean: mean(buckets),
    median: median(buckets),
    p50: pct(0.5),
    p99: pct(0.99),
    total: buckets.reduce((a, b) => a + b, 0),
    non2xx,
    errors,
    timeouts,
    statusCodes,
    seconds: durationSeconds,
    samples: buckets,
    warmupFailures,
    completed,
  }
}

/** Several runs of one scenario as one result: samples and counts pooled, percentiles weighted by run. */
export function mergeRuns (runs: LoadResult[]): LoadResult {
  const samples = runs.flatMap((r) => r.samples)
  const sum = (pick: (r: LoadResult) => number) => runs.reduce((a, r) => a + pick(r), 0)
  const statusCodes: Record<string, number> = {}
  for (const r of runs) for (const [code, n] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n
  return {
    mean: mean(samples),
    median: median(samples),
    p50: median(runs.map((r) => r.p50)),
    p99: Math.max(...runs.map((r) => r.p99)),
    total: sum((r) => r.total),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statusCodes,
    seconds: sum((r) => r.seconds),
    samples,
    warmupFailures: sum((r) => r.warmupFailures),
    completed: sum((r) => r.completed),
    ...(runs.every((r) => r.cpu) ? { cpu: { server: mean(runs.map((r) => r.cpu!.server)), database: mean(runs.map((r) => r.cpu!.database)) } } : {}),
  }
}

const FORM = 'application/x-www-form-urlencoded'

export function jwksScenario (base: string): Scenario {
  return { name: 'JWKS GET', url: `${base}/jwks`, options: () => ({ method: 'GET' }) }
}

export function bareFastifyScenario (base: string): Scenario {
  return { name: 'bare Fastify GET', url: `${base}/`, options: () => ({ method: 'GET' }) }
}

export function clientCredentialsScenario (base: string, seed: Seed): Scenario {
  return {
    name: 'client_credentials',
    url: `${base}/token`,
    options: () => ({
      method: 'POST',
      headers: { authorization: seed.service.basic, 'content-type': FORM },
      body: 'grant_type=client_credentials&scope=read',
    }),
  }
}

/** The password grant; every refresh token it issues goes to `sink` (the refresh scenario's supply). */
export function passwordScenario (base: string, seed: Seed, sink: string[]): Scenario {
  const body = new URLSearchParams({ grant_type: 'password', username: seed.user.username, password: seed.user.password, scope: 'read' }).toString()
  return {
    name: 'password',
    url: `${base}/token`,
    options: () => ({
      requests: [{
        method: 'POST',
        path: '/token',
        headers: { authorization: seed.app.basic, 'content-type': FORM },
        body,
        onResponse (status: number, responseBody: string) {
          if (status === 200) sink.push((JSON.parse(responseBody) as { refresh_token: string }).refresh_token)
        },
      }],
    }),
  }
}

/** How a refresh scenario's client authenticates: Basic (confidential) or `client_id` in the body (public). */
export type RefreshClient = Credentials | { publicClientId: string }

/**
 * The refresh grant with rotation: each connection takes one unused refresh token from `pool` and
 * then chains its own family, presenting the token from its previous response. With pipelining 1,
 * autocannon builds a connection's next request only after the previous response was recorded, so
 * no token is ever presented twice — a non-200 here means a real failure (or a broken chain).
 */
export function refreshScenario (base: string, app: RefreshClient, pool: string[], name = 'refresh_token'): Scenario {
  const headers = 'basic' in app ? { authorization: app.basic, 'content-type': FORM } : { 'content-type': FORM }
  const clientId = 'basic' in app ? '' : `&client_id=${encodeURIComponent(app.publicClientId)}`
  return {
    name,
    url: `${base}/token`,
    options: () => ({
      setupClient (client: autocannon.Client) {
        const token = pool.shift()
        if (!token) throw new Error('the refresh-token pool is exhausted')
        const chain = { token }
        client.setRequests([{
          method: 'POST',
          path: '/token',
          headers,
          setupRequest: (request) => ({ ...request, body: `grant_type=refresh_token${clientId}&refresh_token=${chain.token}` }),
          onResponse (status: number, responseBody: string) {
            if (status === 200) chain.token = (JSON.parse(responseBody) as { refresh_token: string }).refresh_token
          },
        }])
      },
    }),
  }
}

/** One request before the load, so a misconfigured scenario fails loudly instead of measuring 4xx. */
export async function preflight (url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const response = await fetch(url, init)
  const text = await response.text()
  if (response.status !== 200) throw new Error(`preflight ${init.method ?? 'GET'} ${url} answered ${response.status}: ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}
