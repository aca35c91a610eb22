/**
 * Retention metrics: `stamp_purged_rows_total{table}` counts the rows each pass deleted and
 * `stamp_purge_passes_total{outcome}` how passes ended.
 *
 * @module
 */
import t from 'tap'
import { build } from '../helper.js'

const TOKEN = 'm'.repeat(40)

function sample (text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}

t.test('purged rows and passes are counted', async (t) => {
  const app = await build(t, { env: { METRICS_TOKEN: TOKEN } })
  // Expired past the margin: retention finds those per signing key (consumed ones it finds through
  // the successors that name them, which this fixture does not build).
  await app.prisma.$executeRawUnsafe(`INSERT INTO refresh_tokens (jti, family_id, client_id, scope, kid, expires_at)
    SELECT 'c' || g, 'f', 'c', 'read', 'k', now() - interval '2 hours' FROM generate_series(1, 7) g`)
  await app.retention.runOnce()
  await app.retention.runOnce()
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(res.statusCode, 200)
  t.equal(sample(res.body, 'stamp_purged_rows_total', 'table="refresh_tokens"'), 7)
  t.equal(sample(res.body, 'stamp_purged_rows_total', 'table="audit_events"'), 0)
  t.equal(sample(res.body, 'stamp_purge_passes_total', 'outcome="complete"'), 2)
  t.equal(sample(res.body, 'stamp_audit_events_total', 'type="retention_purged"'), 2, 'each pass is an audit event')
})
