/**
 * HTTP load with autocannon, in-process, loopback only: a warm-up run, then the measured run,
 * with the same connections count and request shape. Also the four Stamp scenarios.
 *
 * @module
 */
import autocannon from 'autocannon'
import type { Credentials, Seed } from './database.js'

export interface LoadSettings { connections: number, warmupSeconds: number, durationSeconds: number }

export interface LoadResult {
  /** Requests per second: mean and median of the per-second samples of the measured run. */
  mean: number
  median: number
  /** Latency of 2xx responses, in milliseconds. */
  p50: number
  p99: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
  seconds: number
}

export interface Scenario {
  name: string
  url: string
  /** The autocannon options for each run; called once per run, so per-run state starts fresh. */
  options(): Partial<autocannon.Options>
}

export async function runLoad (scenario: Scenario, settings: LoadSettings): Promise<LoadResult> {
  if (settings.warmupSeconds > 0) await cannon(scenario, settings.connections, settings.warmupSeconds)
  const result = await cannon(scenario, settings.connections, settings.durationSeconds)
  const statusCodes: Record<string, number> = {}
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count
  return {
    mean: result.requests.mean,
    median: result.requests.p50,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    seconds: settings.durationSeconds,
  }
}

function cannon (scenario: Scenario, connections: number, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url: scenario.url, connections, pipelining: 1, duration, timeout: 10, ...scenario.options() },
      (err: Error | null, result: autocannon.Result) => err ? reject(err) : resolve(result))
  })
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

/**
 * The refresh grant with rotation: each connection takes one unused refresh token from `pool` and
 * then chains its own family, presenting the token from its previous response. With pipelining 1,
 * autocannon builds a connection's next request only after the previous response was recorded, so
 * no token is ever presented twice — a non-200 here means a real failure (or a broken chain).
 */
export function refreshScenario (base: string, app: Credentials, pool: string[]): Scenario {
  return {
    name: 'refresh_token',
    url: `${base}/token`,
    options: () => ({
      setupClient (client: autocannon.Client) {
        const token = pool.shift()
        if (!token) throw new Error('the refresh-token pool is exhausted')
        const chain = { token }
        client.setRequests([{
          method: 'POST',
          path: '/token',
          headers: { authorization: app.basic, 'content-type': FORM },
          setupRequest: (request) => ({ ...request, body: `grant_type=refresh_token&refresh_token=${chain.token}` }),
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
