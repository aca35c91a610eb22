import t from 'tap'
import { build } from '../helper.js'

t.test('/healthz and /readyz', async (t) => {
  const app = await build(t)
  const live = await app.inject('/healthz')
  t.equal(live.statusCode, 200)
  t.same(live.json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  const { clock_skew_ms: skew, ...checks } = ready.json().checks
  t.same({ ...ready.json(), checks }, { status: 'ok', checks: { database: 'ok', signing_key: 'ok', clock: 'ok', shutting_down: false } })
  t.ok(Math.abs(skew) < 1000, 'the clock skew against PostgreSQL is measured (and small here)')
})
