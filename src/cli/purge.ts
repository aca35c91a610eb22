/**
 * `stamp purge [--json]` — one retention pass now, with the same bounds and the same lock as the
 * servers' scheduled passes; prints the rows it removed per table. `--json` prints
 * `{"removed": {table: rows}, "batches", "complete", "duration_ms"}`. Exit code 1 when another
 * instance is purging at this moment (nothing was removed; run it again).
 *
 * @module
 */
import { parseArgs } from 'node:util'
import pino from 'pino'
import type { Config } from '../config/env.js'
import { Retention } from '../domain/retention.js'
import { loggerOptions } from '../logging.js'
import { withContext } from './context.js'
import { CommandError, print, table } from './output.js'

export async function purgeCommand (args: string[], config: Config): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true })
  await withContext(config, async (ctx) => {
    // Logs go to stderr: stdout is reserved for the command's output (--json).
    const log = pino({ ...loggerOptions(config.logLevel === 'info' ? 'warn' : config.logLevel) }, pino.destination(2))
    const retention = new Retention({ store: ctx.retention, policy: config.policy.purge, mailWindow: config.policy.accounts.mailWindow, audit: ctx.audit, log })
    const report = await retention.runOnce('cli')
    if (!report) throw new CommandError('another instance is running a retention pass; nothing was removed, try again')
    const rows = Object.entries(report.removed).map(([name, removed]) => ({ table: name, removed }))
    const summary = `${report.batches} statements in ${Math.round(report.durationMs)} ms` +
      (report.complete ? '' : '; stopped at its budget with rows left: run it again, or let the scheduled passes continue')
    print(values.json, { removed: report.removed, batches: report.batches, complete: report.complete, duration_ms: Math.round(report.durationMs) },
      `${table(rows, ['table', 'removed'])}\n${summary}`)
  })
}
