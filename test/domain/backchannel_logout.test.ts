/**
 * Issue 11 item 9: the back-channel logout sender resolves the host itself (an injected lookup:
 * no real name is resolved, no traffic leaves loopback) and never connects to a link-local
 * address; what it does deliver goes to the address it checked.
 */
import t from 'tap'
import { createServer } from 'node:http'
import { BackchannelLogout, isLinkLocal, type HostLookup } from '../../src/domain/backchannel_logout.js'

const policy = { attempts: 1, timeoutMs: 1000, backoffMs: 10 }

function recorder () {
  const lines: Array<{ level: string, obj: Record<string, unknown> }> = []
  return { lines, log: { info: (obj: object) => lines.push({ level: 'info', obj: obj as Record<string, unknown> }), warn: (obj: object) => lines.push({ level: 'warn', obj: obj as Record<string, unknown> }) } }
}

t.test('link-local addresses', async (t) => {
  for (const a of ['169.254.169.254', '169.254.0.1', 'fe80::1', 'FE80::abcd', 'febf::1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '[fe80::1]']) t.ok(isLinkLocal(a), a)
  for (const a of ['127.0.0.1', '10.0.0.1', '169.253.1.1', '::1', 'fec0::1', '2001:db8::1', '::ffff:127.0.0.1']) t.notOk(isLinkLocal(a), a)
})

t.test('never connects to a link-local address, by name or by literal', async (t) => {
  const asked: string[] = []
  const lookup: HostLookup = async (host) => {
    asked.push(host)
    if (host === 'metadata.example') return [{ address: '169.254.169.254', family: 4 }]
    if (host === 'mixed.example') return [{ address: '203.0.113.7', family: 4 }, { address: 'fe80::1', family: 6 }]
    throw new Error('not in this test')
  }
  const connections: string[] = []
  const fetchSpy = (async (url: string) => { connections.push(url); return new Response(null, { status: 200 }) }) as unknown as typeof fetch
  const { lines, log } = recorder()
  const sender = new BackchannelLogout(policy, log, fetchSpy, lookup)
  for (const uri of ['https://metadata.example/latest', 'https://mixed.example/bcl', 'https://169.254.169.254/latest', 'https://[fe80::1]/bcl', 'http://metadata.example/bcl']) {
    sender.notify({ clientId: 'c', uri, token: async () => 'jwt' })
  }
  await sender.drain()
  t.same(connections, [], 'no connection attempted')
  t.same(asked.sort(), ['metadata.example', 'mixed.example'], 'names resolved through the injected lookup; literals need none')
  t.equal(lines.filter((l) => l.obj.event === 'backchannel_logout_refused').length, 5)
})

t.test('a loopback receiver gets the delivery at the checked address (default transport)', async (t) => {
  const received: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => { received.push(`${req.headers.host} ${body}`); res.writeHead(200).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const lookup: HostLookup = async (host) => host === 'localhost' ? [{ address: '127.0.0.1', family: 4 }] : []
  const { lines, log } = recorder()
  const sender = new BackchannelLogout(policy, log, undefined, lookup)
  sender.notify({ clientId: 'c', uri: `http://localhost:${port}/bcl`, token: async () => 'the.logout.token' })
  await sender.drain()
  t.same(received, [`localhost:${port} logout_token=the.logout.token`])
  t.ok(lines.some((l) => l.obj.event === 'backchannel_logout_delivered'))
  const evil: HostLookup = async () => [{ address: '169.254.169.254', family: 4 }]
  const refused = new BackchannelLogout(policy, log, undefined, evil)
  refused.notify({ clientId: 'c', uri: `http://localhost:${port}/bcl`, token: async () => 'second' })
  await refused.drain()
  t.equal(received.length, 1, 'a loopback name resolving to link-local is refused too')
})
