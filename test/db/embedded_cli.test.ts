/**
 * The CLI beside a running `npm start` on the embedded database: the server shares its PGlite
 * through a password-protected loopback socket recorded in DATA_DIR, which lets one connection at a
 * time in, between transactions, so the CLI's statements never interleave with the server's.
 *
 * @module
 */
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort, SERVER, stamp, startServer } from '../fixtures/process.js'

async function token (port: number, id: string, secret: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/token`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  })
  await res.arrayBuffer()
  return res.status
}

t.test('stamp commands work while the server runs on the embedded database', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stamp-embedded-cli-'))
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), PORT: String(port), LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false' }
  delete process.env.DATABASE_URL

  const server = await startServer([process.execPath, SERVER], env)
  t.teardown(() => server.stop('SIGKILL'))

  const created = await stamp(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'read', '--json'], env)
  t.equal(created.code, 0, created.stderr)
  const svc = JSON.parse(created.stdout) as { client_id: string, client_secret: string }
  t.equal(await token(port, svc.client_id, svc.client_secret), 200, 'the server sees the client the CLI just created')

  const address = join(dir, 'data', 'embedded.json')
  t.ok(existsSync(address), 'the socket address is recorded in DATA_DIR')
  t.equal(statSync(address).mode & 0o777, 0o600, 'readable by the owner only (it holds the password)')
  const { url } = JSON.parse(readFileSync(address, 'utf8')) as { url: string }
  t.match(url, /^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\//, 'loopback only, with a password')

  t.test('CLI commands in parallel with token traffic: nothing fails, nothing interleaves', async (t) => {
    let stop = false
    const statuses: number[] = []
    const load = Array.from({ length: 4 }, async () => {
      while (!stop) statuses.push(await token(port, svc.client_id, svc.client_secret))
    })
    const commands = await Promise.all([
      ...Array.from({ length: 3 }, (_, i) => stamp(['client', 'create', '--name', `c${i}`, '--grant', 'client_credentials', '--scope', 'read', '--json'], env)),
      stamp(['user', 'create', '--username', 'alice', '--password-stdin', '--json'], env, 'correct horse battery staple'),
      stamp(['user', 'create', '--username', 'alice', '--password-stdin'], env, 'correct horse battery staple'),
      stamp(['keys', 'list', '--json'], env),
      stamp(['audit', 'tail', '--json'], env),
    ])
    stop = true
    await Promise.all(load)
    const [c0, c1, c2, alice, again, keys, audit] = commands
    for (const [i, c] of [c0, c1, c2, keys, audit].entries()) t.equal(c.code, 0, `command ${i}: ${c.stderr}`)
    t.ok([alice.code, again.code].includes(0) && [alice.code, again.code].includes(1), 'one alice is created, the duplicate refused')
    t.match(alice.code === 0 ? again.stderr : alice.stderr, /already exists/)
    t.equal(JSON.parse(keys.stdout).keys.length, 2)
    t.ok(statuses.length > 10, `${statuses.length} token requests during the commands`)
    t.same([...new Set(statuses)], [200], 'every token request succeeded')
    for (const c of [c0, c1, c2]) {
      const { client_id: id, client_secret: secret } = JSON.parse(c.stdout)
      t.equal(await token(port, id, secret), 200)
    }
  })

  t.test('a client that dies inside a transaction leaves nothing behind and blocks no one', async (t) => {
    const rogue = new pg.Client({ connectionString: url })
    await rogue.connect()
    rogue.on('error', () => {})
    await rogue.query('BEGIN')
    await rogue.query("INSERT INTO audit_events (type, actor) VALUES ('rogue', 'test')")
    // Its statements hold the session; the server's next request waits, then proceeds once it dies.
    const pending = token(port, svc.client_id, svc.client_secret)
    await new Promise((resolve) => setTimeout(resolve, 200))
    ;(rogue as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy()
    t.equal(await pending, 200)
    const audit = await stamp(['audit', 'tail', '--type', 'rogue', '--json'], env)
    t.equal(audit.code, 0, audit.stderr)
    t.same(JSON.parse(audit.stdout).events, [], 'the dead transaction was rolled back')
  })

  t.test('named statements of two connections do not collide', async (t) => {
    const a = new pg.Client({ connectionString: url })
    const b = new pg.Client({ connectionString: url })
    await a.connect()
    await b.connect()
    t.teardown(async () => { await a.end(); await b.end() })
    const q = (c: pg.Client, text: string) => c.query({ name: 'same_name', text })
    t.same((await q(a, "SELECT 'a' AS v")).rows, [{ v: 'a' }])
    t.same((await q(b, "SELECT 'b' AS v")).rows, [{ v: 'b' }])
    t.same((await q(a, "SELECT 'a' AS v")).rows, [{ v: 'a' }])
  })

  t.test('a wrong password is refused', async (t) => {
    const wrong = new URL(url)
    wrong.password = 'not-the-password'
    const client = new pg.Client({ connectionString: wrong.href })
    await t.rejects(client.connect(), /password authentication failed/)
  })

  t.test('after the server stops, the CLI opens the database itself again', async (t) => {
    t.equal(await server.stop('SIGTERM'), 0)
    t.notOk(existsSync(address), 'the address file is removed at shutdown')
    const keys = await stamp(['keys', 'list', '--json'], env)
    t.equal(keys.code, 0, keys.stderr)
    t.equal(JSON.parse(keys.stdout).keys.length, 2)
    // Without a server, two commands at once take turns on the lock instead of failing.
    const both = await Promise.all([stamp(['keys', 'list', '--json'], env), stamp(['audit', 'tail', '--json'], env)])
    for (const c of both) t.equal(c.code, 0, c.stderr)
  })
})
