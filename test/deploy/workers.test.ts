import t from 'tap'
import { get } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '../helper.js'
import { startStamp, stampEnv } from '../fixtures/deploy.js'

/** GET on a fresh connection each time: the cluster balances connections, not requests. */
function fresh (port: number, path: string): Promise<{ status: number, instance: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, instance: String(res.headers['x-stamp-instance']) }))
    }).on('error', reject)
  })
}

t.test('serve --workers 2: both workers serve one port; SIGTERM stops both cleanly', async (t) => {
  const env = stampEnv(await createTestDatabase(t), { INSTANCE_NAME: 'w' })
  const stamp = await startStamp(t, env, ['--workers', '2'], 2)
  t.ok(stamp.lines.some((l) => l.msg === 'primary started workers' && l.workers === 2))
  const seen = new Set<string>()
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const res = await fresh(stamp.port, '/readyz')
    t.equal(res.status, 200)
    seen.add(res.instance)
  }
  t.same([...seen].sort(), ['w/1', 'w/2'], 'both workers answered')

  stamp.child.kill('SIGTERM')
  const exit = await stamp.exited
  t.equal(exit.code, 0, 'the primary exits 0 once the workers drained')
  t.equal(stamp.lines.filter((l) => l.msg === 'shutdown complete').length, 2, 'each worker drained and closed its pool')
  t.ok(stamp.lines.some((l) => l.msg === 'all workers stopped'))
})

t.test('without DATABASE_URL, --workers falls back to one process and says why', async (t) => {
  const env = stampEnv('', { DATA_DIR: mkdtempSync(join(tmpdir(), 'stamp-data-')) })
  delete (env as Record<string, string | undefined>).DATABASE_URL
  const stamp = await startStamp(t, env, ['--workers', '2'])
  const warning = stamp.lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('running 1 worker'))
  t.ok(warning, 'a clear log line')
  t.match(warning?.msg, /embedded database cannot be shared between processes; set DATABASE_URL/)
  t.equal((await fresh(stamp.port, '/healthz')).status, 200)
  stamp.child.kill('SIGTERM')
  t.equal((await stamp.exited).code, 0)
})
