/**
 * Verifier benchmark: `stamp-verifier` against raw `jose.jwtVerify` with a local key set, on the
 * same Stamp-issued tokens in the same run, plus the number of JWKS fetches a key rotation costs.
 *
 * Builds a real Stamp on a throw-away PostgreSQL database (TEST_DATABASE_ADMIN_URL, default
 * postgresql://postgres@127.0.0.1:5432/postgres), listening on loopback, and drops it afterwards.
 * Run standalone with `npx tsx bench/verifier.ts`; `bench/index.ts` calls {@link benchVerifier}.
 *
 * @module
 */
import { pathToFileURL } from 'node:url'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { createVerifier } from 'stamp-verifier'
import { startStamp } from '../test/fixtures/stamp_server.js'
import { ProofSigner, poolSize, pooledScenario } from './dpop.js'
import { runLoad, type LoadResult, type LoadSettings } from './load.js'
import { startPortPrinter } from './processes.js'

export interface VerifierBenchResult {
  /** Median verifications per second through `createVerifier().verify`. */
  stampPerSec: number
  /** Median verifications per second through `jose.jwtVerify` + `createLocalJWKSet`. */
  josePerSec: number
  /** Median over rounds of stamp/jose throughput, measured back to back (target ≥ 0.9). */
  ratio: number
  /** JWKS requests the verifier made across a rotation to the pre-published key (target 0). */
  fetchesDuringRotation: number
  /** `verifyRequest` with `Authorization: Bearer` (unbound tokens), per second (median). */
  bearerPathPerSec: number
  /** `verifyRequest` with `Authorization: DPoP` and a fresh ES256 proof each, per second (median). */
  dpopPathPerSec: number
  /** Median over paired rounds of DPoP/Bearer, in process (the verifier's `verifyRequest` alone). */
  dpopRatio: number
  /** Over HTTP (a Fastify app with the plugin, loopback, autocannon), when `http` settings were given. */
  http?: { bearer: LoadResult[], dpop: LoadResult[], ratios: number[], ratio: number }
}

export interface VerifierBenchOptions {
  /** Measured rounds per contender; the median is reported (default 9). */
  rounds?: number
  /** Verifications per round (default 3000). */
  perRound?: number
  /** Verifications in flight at once, as on a busy resource server (default 16). */
  concurrency?: number
  /** Distinct tokens cycled through (default 256). */
  tokens?: number
  /** Also measure over HTTP: these load settings, this many paired rounds. */
  http?: { settings: LoadSettings, rounds: number, step?: (message: string) => void }
}

const AUDIENCE = 'https://orders.example'

/** Runs `count` calls of `fn` over `tokens` with `concurrency` in flight; returns calls per second. */
async function throughput (fn: (token: string, i?: number) => Promise<unknown>, tokens: string[], count: number, concurrency: number): Promise<number> {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      await fn(tokens[i % tokens.length], i)
    }
  }
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return count / seconds
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * The verifier as a resource server sees it: `GET /orders` on a Fastify app with the plugin
 * (bench/ceilings/resource_server.ts, its own process), Bearer requests against DPoP requests with
 * a fresh proof each (pre-generated before each timed run, distinct jti, htu = the public URL), in
 * alternating paired rounds over loopback. Both carry the same kind of Stamp-issued RS256 token.
 */
async function benchOverHTTP (issuer: string, boundToken: string, bearerToken: string, signer: ProofSigner, http: NonNullable<VerifierBenchOptions['http']>) {
  const publicURL = 'https://orders.example'
  const htu = `${publicURL}/orders`
  const server = await startPortPrinter('ceilings/resource_server.ts', [issuer, AUDIENCE, publicURL])
  try {
    const bearerScenario = { name: 'resource server (Bearer)', url: `${server.url}/orders`, options: () => ({ method: 'GET' as const, headers: { authorization: `Bearer ${bearerToken}` } }) }
    // Fail fast on a misconfigured scenario rather than measuring 401s.
    for (const [authorization, dpop] of [[`Bearer ${bearerToken}`, undefined], [`DPoP ${boundToken}`, signer.proof('GET', htu, boundToken)]]) {
      const response = await fetch(`${server.url}/orders`, { headers: { authorization: authorization!, ...(dpop ? { dpop } : {}) } })
      if (response.status !== 200) throw new Error(`resource server preflight answered ${response.status}: ${await response.text()}`)
    }
    const bearer: LoadResult[] = []
    const dpop: LoadResult[] = []
    const dpopRun = async (expectedRate: number) => {
      const proofs = signer.pool(poolSize(expectedRate, http.settings), 'GET', htu, boundToken)
      http.step?.(`verifier over HTTP: DPoP (${proofs.length} pre-generated ES256 proofs)`)
      dpop.push(await runLoad(pooledScenario('resource server (DPoP)', `${server.url}/orders`, proofs, http.settings.connections, (proof) => ({
        method: 'GET', path: '/orders', headers: { authorization: `DPoP ${boundToken}`, dpop: proof },
      })), http.settings))
    }
    for (let round = 1; round <= http.rounds; round++) {
      const bearerFirst = round % 2 === 1 || !bearer.length
      if (!bearerFirst) await dpopRun(bearer.at(-1)!.mean)
      http.step?.(`verifier over HTTP: Bearer (round ${round}/${http.rounds})`)
      bearer.push(await runLoad(bearerScenario, http.settings))
      if (bearerFirst) await dpopRun(bearer.at(-1)!.mean)
    }
    const ratios = dpop.map((r, i) => r.mean / bearer[i].mean)
    return { bearer, dpop, ratios, ratio: median(ratios) }
  } finally {
    await server.stop()
  }
}

/**
 * Measures verifier throughput against jose and counts JWKS fetches during a rotation.
 *
 * @param options rounds, round size, concurrency and token count
 * @example
 * ```ts
 * const { stampPerSec, josePerSec, ratio, fetchesDuringRotation } = await benchVerifier()
 * ```
 */
export async function benchVerifier (options: VerifierBenchOptions = {}): Promise<VerifierBenchResult> {
  const { rounds = 9, perRound = 3000, concurrency = 16, tokens: tokenCount = 256 } = options
  const teardowns: Array<() => unknown> = []
  try {
    const stamp = await startStamp({ teardown: (fn) => { teardowns.push(fn) } })
    const { app, issuer } = stamp
    const mint = (n: number) => Promise.all(Array.from({ length: n }, (_, i) =>
      app.minter.accessToken({ sub: `client-${i}`, clientId: `client-${i}`, scope: 'orders:read', audience: [AUDIENCE] })))
    const tokens = await mint(tokenCount)

    const verifier = createVerifier({ issuer, audience: AUDIENCE })
    const jwks = createLocalJWKSet(await (await fetch(`${issuer}/jwks`)).json() as JSONWebKeySet)
    // The same checks on both sides: pinned issuer, audience, algorithm and typ.
    const joseOptions = { issuer, audience: AUDIENCE, algorithms: ['RS256'], typ: 'at+jwt', clockTolerance: 5 }
    const stampVerify = (token: string) => verifier.verify(token)
    const joseVerify = (token: string) => jwtVerify(token, jwks, joseOptions)

    // Warm-up: JIT, key import, and the verifier's one JWKS fetch.
    await throughput(stampVerify, tokens, perRound / 4, concurrency)
    await throughput(joseVerify, tokens, perRound / 4, concurrency)

    const stampRates: number[] = []
    const joseRates: number[] = []
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so drift (GC, CPU frequency) does not favour one side.
      if (round % 2 === 0) {
        stampRates.push(await throughput(stampVerify, tokens, perRound, concurrency))
        joseRates.push(await throughput(joseVerify, tokens, perRound, concurrency))
      } else {
        joseRates.push(await throughput(joseVerify, tokens, perRound, concurrency))
        stampRates.push(await throughput(stampVerify, tokens, perRound, concurrency))
      }
    }

    // Rotation: the verifier holds the set fetched after Stamp pre-published its next key.
    const before = verifier.jwks.stats.fetches
    await app.keyring.rotate({ force: true })
    const afterRotation = await mint(32)
    await Promise.all([...afterRotation, ...tokens.slice(0, 32)].map((token) => verifier.verify(token)))
    const fetchesDuringRotation = verifier.jwks.stats.fetches - before

    // DPoP: the same entry point the Fastify plugin and the node:http helper call, for bound tokens
    // with a fresh proof each (pre-generated before each timed round: signing is the client's
    // work) against unbound tokens as Bearer, in alternating paired rounds.
    const signer = new ProofSigner()
    const url = 'https://orders.example/orders'
    const dpopVerifier = createVerifier({ issuer, audience: AUDIENCE, dpop: true })
    const boundTokens = await Promise.all(Array.from({ length: 64 }, (_, i) =>
      app.minter.accessToken({ sub: `client-${i}`, clientId: `client-${i}`, scope: 'orders:read', audience: [AUDIENCE], jkt: signer.jkt })))
    const dpopRounds = Math.min(rounds, 5)
    const dpopPerRound = Math.min(perRound, 2000)
    const requests = () => Array.from({ length: dpopPerRound }, (_, i) => {
      const token = boundTokens[i % boundTokens.length]
      return { authorization: `DPoP ${token}`, dpop: signer.proof('GET', url, token), method: 'GET', url }
    })
    const bearerPath = (token: string) => dpopVerifier.verifyRequest({ authorization: `Bearer ${token}`, dpop: undefined, method: 'GET', url })
    await throughput(bearerPath, tokens, perRound / 4, concurrency)
    let warm = requests()
    await throughput((_, i) => dpopVerifier.verifyRequest(warm[i!]), tokens, dpopPerRound / 4, concurrency)
    const bearerRates: number[] = []
    const dpopRates: number[] = []
    for (let round = 0; round < dpopRounds; round++) {
      warm = requests()
      const dpopRun = async () => dpopRates.push(await throughput((_, i) => dpopVerifier.verifyRequest(warm[i!]), tokens, dpopPerRound, concurrency))
      const bearerRun = async () => bearerRates.push(await throughput(bearerPath, tokens, dpopPerRound, concurrency))
      if (round % 2 === 0) { await bearerRun(); await dpopRun() } else { await dpopRun(); await bearerRun() }
    }

    const http = options.http && await benchOverHTTP(issuer, boundTokens[0], tokens[0], signer, options.http)

    const stampPerSec = Math.round(median(stampRates))
    const josePerSec = Math.round(median(joseRates))
    // The ratio is the median of per-round ratios: each pair ran back to back, so a noisy
    // neighbour slowing a whole round cancels out instead of landing on one side.
    const ratio = median(stampRates.map((rate, i) => rate / joseRates[i]))
    return {
      stampPerSec, josePerSec, ratio: Number(ratio.toFixed(3)), fetchesDuringRotation,
      bearerPathPerSec: Math.round(median(bearerRates)),
      dpopPathPerSec: Math.round(median(dpopRates)),
      dpopRatio: Number(median(dpopRates.map((rate, i) => rate / bearerRates[i])).toFixed(3)),
      ...(http ? { http } : {}),
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchVerifier()
  console.log(`stamp-verifier   ${result.stampPerSec.toLocaleString('en')} verifications/s`)
  console.log(`jose.jwtVerify   ${result.josePerSec.toLocaleString('en')} verifications/s (createLocalJWKSet)`)
  console.log(`ratio            ${result.ratio} (target ≥ 0.9)`)
  console.log(`JWKS fetches during rotation: ${result.fetchesDuringRotation} (target 0)`)
  console.log(`DPoP path ${result.dpopPathPerSec}/s vs Bearer path ${result.bearerPathPerSec}/s: ratio ${result.dpopRatio} (target ≥ 0.8)`)
}
