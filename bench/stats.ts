/**
 * Small helpers shared by the bench parent and its child processes: per-second rate sampling for
 * closed-loop workloads (many operations in flight), and summary statistics.
 *
 * @module
 */

export interface RateResult {
  /** Operations completed per second, mean of the per-second samples. */
  mean: number
  /** Median of the per-second samples. */
  median: number
  /** Operations completed in the measured window. */
  total: number
  /** Length of the measured window, in seconds. */
  seconds: number
  samples: number[]
}

/** Several closed-loop runs as one: samples pooled. */
export function mergeRates (runs: RateResult[]): RateResult {
  const samples = runs.flatMap((r) => r.samples)
  return {
    mean: mean(samples),
    median: median(samples),
    total: runs.reduce((a, r) => a + r.total, 0),
    seconds: runs.reduce((a, r) => a + r.seconds, 0),
    samples,
  }
}

export function median (values: number[]): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function mean (values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0
}

/**
 * Keeps `concurrency` calls of `op` in flight for `warmupMs`, then counts completions for
 * `durationMs`, sampling the count once per second (scaled by the real elapsed time, so a late
 * timer does not skew a sample).
 */
export async function closedLoop (op: () => Promise<unknown>, options: { concurrency: number, warmupMs: number, durationMs: number }): Promise<RateResult> {
  let stop = false
  let count = 0
  const worker = async () => {
    while (!stop) {
      await op()
      count++
    }
  }
  const workers = Array.from({ length: options.concurrency }, worker)
  await sleep(options.warmupMs)

  const samples: number[] = []
  const start = performance.now()
  let lastAt = start
  let lastCount = count
  const startCount = count
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const at = performance.now()
      samples.push((count - lastCount) / ((at - lastAt) / 1000))
      lastAt = at
      lastCount = count
      if (at - start >= options.durationMs - 50) {
        clearInterval(timer)
        resolve()
      }
    }, 1000)
  })
  const total = count - startCount
  const seconds = (lastAt - start) / 1000
  stop = true
  await Promise.all(workers)
  return { mean: mean(samples), median: median(samples), total, seconds, samples }
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
