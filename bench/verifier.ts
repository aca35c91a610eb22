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
import { verify as verifySignature } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { createVerifier } from 'stamp-verifier'
import { startStamp } from '../test/fixtures/stamp_server.js'
import { ProofSigner, poolSize, pooledScenario, type ProofAlgorithm } from './dpop.js'
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
  /** `verifyRequest` with `Authorization: Bearer` (unbound tokens), per second (median; the ES256 pairs). */
  bearerPathPerSec: number
  /** `verifyRequest` with `Authorization: DPoP` and a fresh ES256 proof each, per second (median). */
  dpopPathPerSec: number
  /** Median over paired rounds of DPoP/Bearer, in process (the verifier's `verifyRequest` alone), ES256. */
  dpopRatio: number
  /** Over HTTP (a Fastify app with the plugin, loopback, autocannon), ES256, when `http` settings were given. */
  http?: HTTPPairs
  /** The same, per proof algorithm, with the floor each can reach. */
  dpopByAlg: DPoPAlgFigures[]
}

export interface HTTPPairs { bearer: LoadResult[], dpop: LoadResult[], ratios: number[], ratio: number }

/** The DPoP path against the Bearer path for proofs of one algorithm, and what is physically possible. */
export interface DPoPAlgFigures {
  alg: ProofAlgorithm
  /** In process: the Bearer path paired with this algorithm's runs, per second (median). */
  bearerPerSec: number
  dpopPerSec: number
  /** Median of the paired DPoP/Bearer ratios. */
  ratio: number
  /** One bare node:crypto verify of this algorithm, µs (median of batches). */
  verifyMicros: number
  /**
   * The floor: the Bearer path plus one bare verify of the proof, per second,
   * `1 / (1/bearer + verify)`; no DPoP path can be faster, since it must verify the token and the proof.
   */
  floorPerSec: number
  /** floor / Bearer: the best ratio this algorithm allows here. */
  floorRatio: number
  /** DPoP / floor: how close the DPoP path comes to it. */
  ofFloor: number
  /** Over HTTP, when measured: pairs, and the same floor from the HTTP Bearer rate. */
  http?: HTTPPairs & { floorRatio: number, ofFloor: number }
}

/** Algorithms measured (BENCH_DPOP_ALGS, comma list; default ES256, PS256, EdDSA). */
const DPOP_ALGS = (process.env.BENCH_DPOP_ALGS ?? 'ES256,PS256,EdDSA').split(',').map((a) => a.trim()).filter(Boolean) as ProofAlgorithm[]

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
 * alternating paired rounds over loopback, for each proof algorithm in turn. Both carry the same
 * kind of Stamp-issued RS256 token.
 */
async function benchOverHTTP (issuer: string, bearerToken: string, bound: Array<{ signer: ProofSigner, token: string }>, http: NonNullable<VerifierBenchOptions['http']>): Promise<HTTPPairs[]> {
  const publicURL = 'https://orders.example'
  const htu = `${publicURL}/orders`
  const server = await startPortPrinter('ceilings/resource_server.ts', [issuer, AUDIENCE, publicURL])
  try {
    const bearerScenario = { name: 'resource server (Bearer)', url: `${server.url}/orders`, options: () => ({ method: 'GET' as const, headers: { authorization: `Bearer ${bearerToken}` } }) }
    const results: HTTPPairs[] = []
    for (const { signer, token: boundToken } of bound) {
      // Fail fast on a misconfigured scenario rather than measuring 401s.
      for (const [authorization, dpop] of [[`Bearer ${bearerToken}`, undefined], [`DPoP ${boundToken}`, signer.proof('GET', htu, boundToken)]]) {
        const response = await fetch(`${server.url}/orders`, { headers: { authorization: authorization!, ...(dpop ? { dpop } : {}) } })
        if (response.status !== 200) throw new Error(`resource server preflight (${signer.alg}) answered ${response.status}: ${await response.text()}`)
      }
      const bearer: LoadResult[] = []
      const dpop: LoadResult[] = []
      const dpopRun = async () => {
        // Sized from the fastest Bearer run so far (and 1.5 × the fastest DPoP run): the rate swings
        // between rounds on these shared cores, and a connection that runs out of proofs replays
        // (non-2xx). Not much more: PS256 signing is slow (≈ 0.3–0.8 ms), and a pool that takes
        // near a minute to sign starts with proofs past the 60 s iat window.
        const expectedRate = Math.max(...bearer.map((r) => r.mean), ...dpop.map((r) => 1.5 * r.mean))
        const started = performance.now()
        const proofs = signer.pool(poolSize(expectedRate, http.settings), 'GET', htu, boundToken)
        http.step?.(`verifier over HTTP: DPoP (${proofs.length} pre-generated ${signer.alg} proofs, signed in ${((performance.now() - started) / 1000).toFixed(1)} s)`)
        dpop.push(await runLoad(pooledScenario(`resource server (DPoP ${signer.alg})`, `${server.url}/orders`, proofs, http.settings.connections, (proof) => ({
          method: 'GET', path: '/orders', headers: { authorization: `DPoP ${boundToken}`, dpop: proof },
        })), http.settings))
      }
      for (let round = 1; round <= http.rounds; round++) {
        const bearerFirst = round % 2 === 1 || !bearer.length
        if (!bearerFirst) await dpopRun()
        http.step?.(`verifier over HTTP: Bearer (${signer.alg} pairs, round ${round}/${http.rounds})`)
        bearer.push(await runLoad(bearerScenario, http.settings))
        if (bearerFirst) await dpopRun()
      }
      const ratios = dpop.map((r, i) => r.mean / bearer[i].mean)
      results.push({ bearer, dpop, ratios, ratio: median(ratios) })
    }
    return results
  } finally {
    await server.stop()
  }
}

/** µs of one bare node:crypto verify of a proof of `signer`'s algorithm (median of 7 batches of 100). */
function bareVerifyMicros (signer: ProofSigner): number {
  const proof = signer.proof('GET', 'https://orders.example/orders', 'token')
  const dot = proof.lastIndexOf('.')
  const input = Buffer.from(proof.slice(0, dot))
  const signature = Buffer.from(proof.slice(dot + 1), 'base64url')
  const { key, digest, options } = signer.verifyKey
  const keyInput = { key, ...options }
  const batches: number[] = []
  for (let batch = 0; batch < 8; batch++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 100; i++) if (!verifySignature(digest, input, keyInput, signature)) throw new Error('bench proof does not verify')
    if (batch) batches.push(Number(process.hrtime.bigint() - started) / 1e3 / 100) // the first batch warms up
  }
  return median(batches)
}

const floorOf = (bearerPerSec: number, verifyMicros: number) => 1e6 / (1e6 / bearerPerSec + verifyMicros)

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
    // work) against unbound tokens as Bearer, in alternating paired rounds, per proof algorithm.
    const url = 'https://orders.example/orders'
    const dpopVerifier = createVerifier({ issuer, audience: AUDIENCE, dpop: true })
    const dpopRounds = Math.min(rounds, 5)
    const dpopPerRound = Math.min(perRound, 2000)
    const bearerPath = (token: string) => dpopVerifier.verifyRequest({ authorization: `Bearer ${token}`, dpop: undefined, method: 'GET', url })
    await throughput(bearerPath, tokens, perRound / 4, concurrency)
    const perAlg: Array<{ signer: ProofSigner, boundTokens: string[], bearerRates: number[], dpopRates: number[], verifyMicros: number[] }> = []
    for (const alg of DPOP_ALGS) {
      const signer = new ProofSigner(alg)
      const boundTokens = await Promise.all(Array.from({ length: 64 }, (_, i) =>
        app.minter.accessToken({ sub: `client-${i}`, clientId: `client-${i}`, scope: 'orders:read', audience: [AUDIENCE], jkt: signer.jkt })))
      const requests = () => Array.from({ length: dpopPerRound }, (_, i) => {
        const token = boundTokens[i % boundTokens.length]
        return { authorization: `DPoP ${token}`, dpop: signer.proof('GET', url, token), method: 'GET', url }
      })
      let warm = requests()
      await throughput((_, i) => dpopVerifier.verifyRequest(warm[i!]), tokens, dpopPerRound / 4, concurrency)
      const bearerRates: number[] = []
      const dpopRates: number[] = []
      // The bare verify is timed in every round too, so the floor sees the same machine as the pair.
      const verifyMicros: number[] = []
      for (let round = 0; round < dpopRounds; round++) {
        warm = requests()
        verifyMicros.push(bareVerifyMicros(signer))
        const dpopRun = async () => dpopRates.push(await throughput((_, i) => dpopVerifier.verifyRequest(warm[i!]), tokens, dpopPerRound, concurrency))
        const bearerRun = async () => bearerRates.push(await throughput(bearerPath, tokens, dpopPerRound, concurrency))
        if (round % 2 === 0) { await bearerRun(); await dpopRun() } else { await dpopRun(); await bearerRun() }
      }
      perAlg.push({ signer, boundTokens, bearerRates, dpopRates, verifyMicros })
    }

    const httpByAlg = options.http && await benchOverHTTP(issuer, tokens[0], perAlg.map((a) => ({ signer: a.signer, token: a.boundTokens[0] })), options.http)
    const dpopByAlg: DPoPAlgFigures[] = perAlg.map(({ signer, bearerRates, dpopRates, verifyMicros: rounds }, i) => {
      const bearerPerSec = median(bearerRates)
      const dpopPerSec = median(dpopRates)
      const verifyMicros = median(rounds)
      // Per round: that round's Bearer rate and bare verify give its floor; medians over rounds.
      const floors = bearerRates.map((rate, j) => floorOf(rate, rounds[j]))
      const pairs = httpByAlg?.[i]
      const httpBearer = pairs && median(pairs.bearer.map((r) => r.mean))
      const httpFloor = httpBearer && floorOf(httpBearer, verifyMicros)
      return {
        alg: signer.alg,
        bearerPerSec: Math.round(bearerPerSec),
        dpopPerSec: Math.round(dpopPerSec),
        ratio: Number(median(dpopRates.map((rate, j) => rate / bearerRates[j])).toFixed(3)),
        verifyMicros: Number(verifyMicros.toFixed(1)),
        floorPerSec: Math.round(median(floors)),
        floorRatio: Number(median(floors.map((floor, j) => floor / bearerRates[j])).toFixed(3)),
        ofFloor: Number(median(dpopRates.map((rate, j) => rate / floors[j])).toFixed(3)),
        ...(pairs && httpBearer && httpFloor
          ? { http: { ...pairs, floorRatio: Number((httpFloor / httpBearer).toFixed(3)), ofFloor: Number((median(pairs.dpop.map((r) => r.mean)) / httpFloor).toFixed(3)) } }
          : {}),
      }
    })
    const es256 = dpopByAlg.find((a) => a.alg === 'ES256') ?? dpopByAlg[0]

    const stampPerSec = Math.round(median(stampRates))
    const josePerSec = Math.round(median(joseRates))
    // The ratio is the median of per-round ratios: each pair ran back to back, so a noisy
    // neighbour slowing a whole round cancels out instead of landing on one side.
    const ratio = median(stampRates.map((rate, i) => rate / joseRates[i]))
    return {
      stampPerSec, josePerSec, ratio: Number(ratio.toFixed(3)), fetchesDuringRotation,
      bearerPathPerSec: es256.bearerPerSec,
      dpopPathPerSec: es256.dpopPerSec,
      dpopRatio: es256.ratio,
      ...(es256.http ? { http: es256.http } : {}),
      dpopByAlg,
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
  for (const line of dpopLines(result.dpopByAlg)) console.log(line)
}

/** One line per proof algorithm: rates, ratio, floor (in process, and over HTTP when measured). */
export function dpopLines (byAlg: DPoPAlgFigures[]): string[] {
  const f = (n: number) => Math.round(n).toLocaleString('en-US')
  const lines = ['DPoP path vs Bearer path per proof algorithm (floor = Bearer + one bare verify of the proof; target ≥ 0.8):']
  for (const a of byAlg) {
    lines.push(`  ${a.alg.padEnd(6)} in process: DPoP ${f(a.dpopPerSec)}/s vs Bearer ${f(a.bearerPerSec)}/s = ${a.ratio.toFixed(2)}; verify ${a.verifyMicros} µs → floor ${f(a.floorPerSec)}/s = ${a.floorRatio.toFixed(2)} of Bearer; DPoP reaches ${(a.ofFloor * 100).toFixed(0)} % of the floor`)
    if (a.http) {
      const mean = (runs: LoadResult[]) => runs.reduce((sum, r) => sum + r.mean, 0) / runs.length
      const failures = a.http.dpop.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0)
      lines.push(`  ${''.padEnd(6)} over HTTP:  DPoP ${f(mean(a.http.dpop))}/s vs Bearer ${f(mean(a.http.bearer))}/s = ${a.http.ratio.toFixed(2)} (pairs ${a.http.ratios.map((r) => r.toFixed(2)).join(', ')}); floor ${a.http.floorRatio.toFixed(2)} of Bearer; DPoP reaches ${(a.http.ofFloor * 100).toFixed(0)} % of it${failures ? `  ← ${failures} DPoP failures (pool ran out?): figure not valid` : ''}`)
    }
  }
  return lines
}
