/**
 * Targets, ratios and the printed report (console lines, a README-ready markdown table, JSON).
 *
 * Targets (from the performance issue), each a Stamp rate against a raw ceiling measured in the
 * same run on the same machine:
 * - client_credentials ≥ 0.65 × two-core RS256 signing rate (one signature per request);
 * - JWKS ≥ 0.8 × bare Fastify;
 * - refresh ≥ 0.6 × signing rate / 2 (two signatures per request: access and refresh token);
 * - password ≥ 0.9 × argon2 verification rate (one verification per request).
 *
 * @module
 */
import type { LoadResult } from './load.js'
import { mean, median, type RateResult } from './stats.js'

export interface Check {
  name: string
  /** Measured Stamp rate (mean req/s), or the verifier figure. */
  value: number
  /** The ceiling it is compared with, already scaled (e.g. signing rate / 2). */
  ceiling: number
  ceilingLabel: string
  ratio: number
  target: number
  pass: boolean
  /** Per-round (value, ceiling) when the ratio comes from back-to-back pairs. */
  pairs?: Array<[number, number]>
  /** A budget (value ≤ target, e.g. milliseconds) rather than a ratio to reach. */
  atMost?: boolean
}

export function ratioCheck (name: string, value: number, ceiling: number, ceilingLabel: string, target: number): Check {
  const ratio = ceiling > 0 ? value / ceiling : 0
  return { name, value, ceiling, ceilingLabel, ratio, target, pass: ratio >= target }
}

/**
 * The same check from back-to-back (scenario, ceiling) pairs: the ratio is the median of the
 * per-pair ratios, which cancels the machine's drift between pairs; value and ceiling are means.
 */
export function pairedRatioCheck (name: string, pairs: Array<[value: number, ceiling: number]>, ceilingLabel: string, target: number): Check {
  const ratio = median(pairs.map(([value, ceiling]) => ceiling > 0 ? value / ceiling : 0))
  return { name, value: mean(pairs.map((p) => p[0])), ceiling: mean(pairs.map((p) => p[1])), ceilingLabel, ratio, target, pass: ratio >= target, pairs }
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US')
const f1 = (n: number) => n.toFixed(1)
const f2 = (n: number) => n.toFixed(2)

export interface Ceilings {
  /** Every round's run, pooled (each round's own figure is in its check's pairs). */
  sign?: RateResult
  argon2?: RateResult
  bare?: LoadResult
  /** The refresh grant's SQL statement alone (consume + insert + commit), 32 chains over pg. */
  refreshStatement?: RateResult
}

export function printConsole (scenarios: Record<string, LoadResult>, ceilings: Ceilings, checks: Check[]): void {
  console.log('\nCeilings (same run, same machine)')
  const { sign, argon2, bare, refreshStatement } = ceilings
  if (sign) console.log(`  RS256 sign (jose, 2 cores)   ${f0(sign.mean).padStart(8)} /s mean  ${f0(sign.median).padStart(8)} /s median`)
  if (refreshStatement) console.log(`  refresh SQL statement alone  ${f0(refreshStatement.mean).padStart(8)} /s mean  ${f0(refreshStatement.median).padStart(8)} /s median`)
  if (argon2) console.log(`  argon2id verify              ${f0(argon2.mean).padStart(8)} /s mean  ${f0(argon2.median).padStart(8)} /s median`)
  if (bare) console.log(`  bare Fastify GET             ${f0(bare.mean).padStart(8)} /s mean  ${f0(bare.median).padStart(8)} /s median  p50 ${f1(bare.p50)} ms  p99 ${f1(bare.p99)} ms`)
  console.log('\nStamp (real server, loopback)')
  for (const [name, r] of Object.entries(scenarios)) {
    const cpu = r.cpu ? `  CPU/response ${f0(r.cpu.server)} µs server + ${f0(r.cpu.database)} µs PostgreSQL` : ''
    console.log(`  ${name.padEnd(28)} ${f0(r.mean).padStart(8)} /s mean  ${f0(r.median).padStart(8)} /s median  p50 ${f1(r.p50)} ms  p99 ${f1(r.p99)} ms  non-2xx ${r.non2xx}  errors ${r.errors}  timeouts ${r.timeouts}${cpu}`)
  }
  console.log('\nTargets')
  for (const c of checks) {
    const rounds = c.pairs && c.pairs.length > 1 ? `, rounds ${c.pairs.map(([v, ceiling]) => f2(v / ceiling)).join(' ')}` : ''
    console.log(`  ${c.pass ? 'PASS' : 'MISS'}  ${c.name.padEnd(30)} ${c.ceilingLabel ? `${f0(c.value)} vs ${f0(c.ceiling)} (${c.ceilingLabel}) → ` : ''}ratio ${f2(c.ratio)}${rounds} (target ${c.atMost ? '≤' : '≥'} ${c.target})`)
  }
}

export function markdownTable (scenarios: Record<string, LoadResult>, checks: Map<string, Check>): string {
  const lines = [
    '| Scenario | req/s (mean) | req/s (median) | p50 (ms) | p99 (ms) | non-2xx | vs ceiling | target | |',
    '|---|---:|---:|---:|---:|---:|---|---:|---|',
  ]
  for (const [name, r] of Object.entries(scenarios)) {
    const c = checks.get(name)
    const vs = c ? `${f2(c.ratio)} × ${c.ceilingLabel} (${f0(c.ceiling)}/s)` : '—'
    lines.push(`| ${name} | ${f0(r.mean)} | ${f0(r.median)} | ${f1(r.p50)} | ${f1(r.p99)} | ${r.non2xx} | ${vs} | ${c ? `${c.atMost ? '≤' : '≥'} ${c.target}` : ''} | ${c ? (c.pass ? 'PASS' : 'MISS') : ''} |`)
  }
  return lines.join('\n')
}
