/**
 * `stamp audit tail [--limit N] [--type T] [--json]` — the newest N security events (default
 * 20), oldest first like `tail`. `--json` prints `{"events": [...]}`.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { withContext } from './context.js'
import { print, table, UsageError } from './output.js'

const USAGE = 'usage: stamp audit tail [--limit N] [--type TYPE] [--json]'

export async function auditCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action !== 'tail') throw new UsageError(USAGE)
  const { values } = parseArgs({
    args: rest,
    options: {
      limit: { type: 'string', default: '20' },
      type: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const limit = Number(values.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000')
  await withContext(config, async (ctx) => {
    const events = (await ctx.audits.list({ limit, type: values.type })).reverse()
    const rows = events.map((e) => ({
      id: e.id, time: e.createdAt, type: e.type, actor: e.actor, subject: e.subject, client_id: e.clientId, ip: e.ip,
      detail: e.detail === null ? null : JSON.stringify(e.detail),
    }))
    print(values.json, { events: rows.map((r) => ({ ...r, detail: r.detail === null ? null : JSON.parse(r.detail) })) },
      rows.length ? table(rows, ['id', 'time', 'type', 'actor', 'subject', 'client_id', 'ip', 'detail']) : 'no audit events')
  })
}
