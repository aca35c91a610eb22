/**
 * /metrics: bearer-protected, absent without METRICS_TOKEN, and valid Prometheus text format
 * (checked by a small parser of exposition format 0.0.4) with the counters Stamp promises.
 */
import t from 'tap'
import { build, createClient, createUser, postForm } from '../helper.js'

interface Sample { name: string, labels: Record<string, string>, value: number }

/** Parses Prometheus text exposition format 0.0.4; throws on any malformed line. */
function parsePrometheus (text: string): { types: Map<string, string>, samples: Sample[] } {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const sampleLine = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)(?: -?\\d+)?$`)
  const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(?:,|$)/
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  for (const line of text.split('\n').slice(0, -1)) {
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line)
      if (!m) throw new Error(`bad comment line: ${line}`)
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`bad type: ${line}`)
        if (types.has(m[2])) throw new Error(`TYPE twice: ${m[2]}`)
        types.set(m[2], m[3])
      }
      continue
    }
    const m = sampleLine.exec(line)
    if (!m) throw new Error(`bad sample line: ${line}`)
    const labels: Record<string, string> = {}
    let rest = m[2] ?? ''
    while (rest.length) {
      const l = label.exec(rest)
      if (!l) throw new Error(`bad labels: ${line}`)
      labels[l[1]] = l[2]
      rest = rest.slice(l[0].length)
    }
    const family = m[1].replace(/_(bucket|sum|count)$/, '')
    if (!types.has(m[1]) && !(types.get(family) === 'histogram')) throw new Error(`sample without TYPE: ${m[1]}`)
    samples.push({ name: m[1], labels, value: Number(m[3].replace('Inf', 'Infinity')) })
  }
  return { types, samples }
}

t.test('/metrics is not served without METRICS_TOKEN', async (t) => {
  const app = await build(t)
  t.equal((await app.inject('/metrics')).statusCode, 404)
})

t.test('/metrics: bearer token, Prometheus text, the promised series', async (t) => {
  const token = 'a-metrics-token-that-is-long-enough-0123456789'
  const app = await build(t, { env: { METRICS_TOKEN: token } })
  const { basic } = await createClient(app)
  const pw = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['openid'] })
  const { username, password } = await createUser(app)
  await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic })
  await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: basic })
  await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: pw.basic })
  await postForm(app, '/token', { grant_type: 'password', username, password: 'nope nope nope' }, { authorization: pw.basic })
  await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: 'Basic eDp5' })

  const denied = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })
  t.equal(denied.statusCode, 401)
  t.equal(denied.json().error, 'invalid_token')
  t.equal((await app.inject('/metrics')).statusCode, 401)

  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const { types, samples } = parsePrometheus(res.body)
  const value = (name: string, labels: Record<string, string> = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

  t.equal(types.get('stamp_tokens_issued_total'), 'counter')
  t.equal(value('stamp_tokens_issued_total', { grant_type: 'client_credentials' }), 2)
  t.equal(value('stamp_tokens_issued_total', { grant_type: 'password' }), 1)
  t.equal(value('stamp_oauth_errors_total', { error: 'invalid_grant' }), 1)
  t.equal(value('stamp_oauth_errors_total', { error: 'invalid_client' }), 1)
  t.equal(value('stamp_login_failures_total', { reason: 'bad_password' }), 1)
  t.equal(value('stamp_audit_events_total', { type: 'login_succeeded' }), 1)
  t.equal(types.get('stamp_http_request_duration_seconds'), 'histogram')
  t.equal(value('stamp_http_request_duration_seconds_count', { route: '/token', status_code: '200' }), 3)
  const buckets = samples.filter((s) => s.name === 'stamp_http_request_duration_seconds_bucket' && s.labels.route === '/token' && s.labels.status_code === '200')
  t.ok(buckets.length > 5 && buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1].value), 'cumulative buckets')
  t.equal(buckets.at(-1)!.labels.le, '+Inf')
  const ages = samples.filter((s) => s.name === 'stamp_signing_key_age_seconds')
  t.strictSame(ages.map((a) => a.labels.status).sort(), ['active', 'next'])
  t.ok(ages.every((a) => a.value >= 0 && a.value < 3600))
  t.notOk(samples.some((s) => s.labels.route?.includes('?')), 'routes are patterns, not URLs')
})
