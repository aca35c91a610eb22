import t from 'tap'
import { build } from '../helper.js'

t.test('/healthz and /readyz', async (t) => {
  const app = await build(t)
  const live = await app.inject('/healthz')
  t.equal(live.statusCode, 200)
  t.same(live.json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', checks: { database: 'ok', signing_key: 'ok', shutting_down: false } })
})
