import t, { type Test } from 'tap'
import { classifyAddress, FetchRefused, safeFetch, type SafeFetchOptions } from '../../src/http/safe_fetch.js'
import { fakeDNS, json, selfSignedCertificate, startDocumentServer } from '../fixtures/document_server.js'

const tls = selfSignedCertificate(['docs.test'])
const server = await startDocumentServer({ tls })
t.teardown(() => server.close())
const dns = fakeDNS({
  'docs.test': ['127.0.0.1'],
  'private.test': ['10.0.0.5'],
  'linklocal.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:192.168.1.1'],
  'ula.test': ['fd00::1'],
  'mixed.test': ['93.184.216.34', '10.0.0.1'],
})
const base: SafeFetchOptions = { lookup: dns.lookup, ca: server.ca, allowLoopback: true, timeoutMs: 1000, maxBytes: 1024 }
const at = (path: string, host = 'docs.test') => new URL(`https://${host}:${server.port}${path}`)

async function refusal (t: Test, promise: Promise<unknown>, reason: string) {
  const err = await promise.then(() => null, (e: unknown) => e)
  t.ok(err instanceof FetchRefused, `refused (${String(err)})`)
  t.equal((err as FetchRefused).reason, reason)
}

t.test('address classification: IPv4, IPv6, IPv4-mapped, NAT64', async (t) => {
  const cases: Record<string, string | null> = {
    '8.8.8.8': null, '93.184.216.34': null, '2606:4700::1111': null, '::ffff:8.8.8.8': null,
    '127.0.0.1': 'loopback', '127.1.2.3': 'loopback', '::1': 'loopback', '::ffff:127.0.0.1': 'loopback', '::ffff:7f00:1': 'loopback',
    '10.0.0.1': 'special', '172.16.0.1': 'special', '192.168.0.1': 'special', '169.254.169.254': 'special', '100.64.0.1': 'special',
    '0.0.0.0': 'special', '224.0.0.251': 'special', '255.255.255.255': 'special', '::': 'special', 'fe80::1': 'special',
    'fc00::1': 'special', 'fd12:3456::1': 'special', 'ff02::1': 'special', '::ffff:10.1.1.1': 'special', '::ffff:a9fe:a9fe': 'special',
    '64:ff9b::10.0.0.1': 'special', '2001:db8::1': 'special', 'not-an-ip': 'invalid',
  }
  for (const [address, kind] of Object.entries(cases)) t.equal(classifyAddress(address), kind, address)
})

t.test('fetches over https from the address it resolved, with the name for TLS and Host', async (t) => {
  server.routes.set('/ok', json({ hello: 'world' }))
  dns.calls.length = 0
  const res = await safeFetch(at('/ok'), base)
  t.equal(res.status, 200)
  t.same(JSON.parse(res.body.toString()), { hello: 'world' })
  t.same(dns.calls, ['docs.test'], 'resolved exactly once (no second resolution to rebind)')
  t.equal(server.hosts.at(-1), `docs.test:${server.port}`)
})

t.test('an untrusted certificate is refused', async (t) => {
  await refusal(t, safeFetch(at('/ok'), { ...base, ca: undefined }), 'network')
})

t.test('loopback is refused unless allowed', async (t) => {
  await refusal(t, safeFetch(at('/ok'), { ...base, allowLoopback: false }), 'address')
  await refusal(t, safeFetch(new URL(`https://127.0.0.1:${server.port}/ok`), { ...base, allowLoopback: false }), 'address')
  await refusal(t, safeFetch(new URL(`https://[::1]:${server.port}/ok`), { ...base, allowLoopback: false }), 'address')
})

t.test('names resolving to private, link-local, mapped or unique-local addresses are refused, even among public ones', async (t) => {
  for (const host of ['private.test', 'linklocal.test', 'mapped.test', 'ula.test', 'mixed.test']) {
    await refusal(t, safeFetch(at('/ok', host), base), 'address')
  }
  await refusal(t, safeFetch(at('/ok', 'unknown.test'), base), 'dns')
})

t.test('redirects are not followed', async (t) => {
  server.routes.set('/redirect', (_req, res) => { res.writeHead(302, { location: 'https://169.254.169.254/latest/meta-data' }).end() })
  await refusal(t, safeFetch(at('/redirect'), base), 'redirect')
})

t.test('size limit: declared and streamed', async (t) => {
  server.routes.set('/big', json('x'.repeat(2000)))
  await refusal(t, safeFetch(at('/big'), base), 'too_large')
  server.routes.set('/chunked', (_req, res) => { res.writeHead(200); res.write('y'.repeat(800)); res.write('y'.repeat(800)); res.end() })
  await refusal(t, safeFetch(at('/chunked'), base), 'too_large')
})

t.test('a slow server times out', async (t) => {
  server.routes.set('/slow', (_req, res) => { setTimeout(() => { if (!res.destroyed) res.end('{}') }, 2000).unref() })
  const started = Date.now()
  await refusal(t, safeFetch(at('/slow'), { ...base, timeoutMs: 300 }), 'timeout')
  t.ok(Date.now() - started < 1500, 'gave up at the deadline')
  const slowDNS: SafeFetchOptions = { ...base, timeoutMs: 200, lookup: () => new Promise((resolve) => setTimeout(() => resolve([{ address: '127.0.0.1', family: 4 }]), 1000).unref()) }
  await refusal(t, safeFetch(at('/ok'), slowDNS), 'timeout')
})
