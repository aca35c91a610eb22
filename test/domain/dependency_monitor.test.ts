/**
 * DependencyMonitor: one line per transition, rate-limited reminders in between, a probe that
 * notices the recovery without traffic. Pure: an injected clock, no database.
 */
import t from 'tap'
import { DependencyMonitor } from '../../src/domain/dependency_monitor.js'

function recorder () {
  const lines: Array<{ level: string, obj: Record<string, unknown>, msg: string }> = []
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj: obj as Record<string, unknown>, msg }) }
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } }
}

t.test('one error line per outage, reminders at most every logIntervalMs, one recovery line', async (t) => {
  let now = 1_000_000
  const { lines, log } = recorder()
  const monitor = new DependencyMonitor({ name: 'database', log, logIntervalMs: 10_000, now: () => now })
  const changes: string[] = []
  monitor.onChange((state) => changes.push(state))

  for (let i = 0; i <= 1000; i++) { monitor.failed('ECONNREFUSED', 'connect ECONNREFUSED'); now += 10 } // 10 s of failures
  t.equal(monitor.state, 'down')
  t.same(lines.map((l) => l.msg), ['database unavailable', 'database still unavailable'], '1,001 failures: two lines')
  t.same(lines[0].obj, { dependency: 'database', error_code: 'ECONNREFUSED', error: 'connect ECONNREFUSED' })
  t.equal(lines[1].obj.failed_since_last_line, 1000)
  monitor.recovered()
  monitor.recovered()
  t.equal(lines.at(-1)!.msg, 'database recovered')
  t.equal(lines.at(-1)!.obj.failed_requests, 1001)
  t.equal(lines.at(-1)!.obj.down_ms, 10_010)
  t.equal(lines.length, 3, 'a second recovered() is silent')
  monitor.failed(undefined, 'x')
  t.equal(monitor.outages, 2)
  t.same(changes, ['down', 'up', 'down'])
  monitor.stop()
})

t.test('the probe recovers the monitor without traffic', async (t) => {
  const { lines, log } = recorder()
  let healthy = false
  const monitor = new DependencyMonitor({ name: 'redis', log, fallback: 'per-instance counters', probeIntervalMs: 20, probe: async () => { if (!healthy) throw new Error('down') } })
  monitor.failed('ECONNREFUSED', 'connect ECONNREFUSED')
  t.equal(lines[0].msg, 'redis unavailable; per-instance counters')
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(monitor.state, 'down', 'still down while the probe fails')
  healthy = true
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(monitor.state, 'up')
  t.equal(lines.at(-1)!.msg, 'redis recovered')
  monitor.stop()
})
