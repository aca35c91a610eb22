import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { freePort, run, SERVER, stamp, startServer } from '../fixtures/process.js'

// The newcomer path: no DATABASE_URL, the embedded PostgreSQL (PGlite) in DATA_DIR.
t.test('the server runs on the embedded database when DATABASE_URL is not set', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stamp-embedded-'))
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys'), PORT: String(port), LOG_LEVEL: 'info' }
  delete process.env.DATABASE_URL // children inherit the environment; this test is about its absence

  const created = await stamp(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'read', '--json'], { ...env })
  t.equal(created.code, 0, created.stderr)
  const { client_id: id, client_secret: secret } = JSON.parse(created.stdout)

  const server = await startServer([process.execPath, SERVER], env)
  t.teardown(() => server.stop('SIGKILL'))
  t.match(server.output(), /"embedded":true/)

  const second = await run(process.execPath, [SERVER], { env: { ...env, PORT: String(await freePort()) } })
  t.equal(second.code, 1, 'a second server cannot open the embedded database')
  t.match(second.stderr, /in use by process/)
  const beside = await stamp(['keys', 'list', '--json'], { ...env })
  t.equal(beside.code, 0, 'the CLI works beside the server (test/db/embedded_cli.test.ts): ' + beside.stderr)

  const res = await fetch(`http://127.0.0.1:${port}/token`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  })
  t.equal(res.status, 200)
  const { access_token: token } = await res.json() as { access_token: string }
  const jwks = createLocalJWKSet(await (await fetch(`http://127.0.0.1:${port}/jwks`)).json() as { keys: [] })
  const { payload } = await jwtVerify(token, jwks, { issuer: `http://localhost:${port}`, typ: 'at+jwt' })
  t.equal(payload.sub, id)

  t.equal(await server.stop('SIGTERM'), 0, 'graceful exit on SIGTERM')
  t.match(server.output(), /shutting down/)
  const reopened = await stamp(['keys', 'list', '--json'], { ...env })
  t.equal(reopened.code, 0, 'the lock is released and the data persisted: ' + reopened.stderr)
  t.equal(JSON.parse(reopened.stdout).keys.length, 2)
})

// A lock whose pid now names another process is stale: after a container restart the new Stamp
// is usually pid 1 again, the pid its dead predecessor wrote; on a host, pids are reused.
t.test('a pid lock naming a reused pid is stale; a live owner still blocks', async (t) => {
  const { openDatabase } = await import('../../src/db/connection.js')
  const { spawn } = await import('node:child_process')
  const { readFileSync, utimesSync, writeFileSync } = await import('node:fs')
  const dataDir = join(mkdtempSync(join(tmpdir(), 'stamp-embedded-lock-')), 'data')
  const lock = join(dataDir, 'stamp.pid')
  const opens = async () => { const db = await openDatabase({ dataDir }); await db.close() }

  await opens() // creates the data dir and checks that the lock is released on close
  const written = () => JSON.parse(readFileSync(lock, 'utf8'))
  const held = await openDatabase({ dataDir })
  const record = written()
  t.equal(record.pid, process.pid)
  t.match(record, { start: String, boot: String }, 'the lock records more than the pid')
  await t.rejects(opens(), /in use by process/, 'this process holds it: still in use')
  await held.close()

  // The predecessor was this very pid (container restart, pid 1): old and new lock format.
  writeFileSync(lock, String(process.pid))
  await t.resolves(opens(), 'a plain pid lock naming this process is stale')
  writeFileSync(lock, JSON.stringify({ ...record, start: '1' }))
  await t.resolves(opens(), 'this pid, another start time: stale')

  const other = spawn('sleep', ['30'], { stdio: 'ignore' })
  t.teardown(() => { other.kill('SIGKILL') })
  await new Promise((r) => other.once('spawn', r))
  const pid = other.pid!
  const start = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]
  writeFileSync(lock, JSON.stringify({ pid, start, boot: record.boot }))
  await t.rejects(opens(), new RegExp(`in use by process ${pid}`), 'a live owner with its start time blocks')
  writeFileSync(lock, JSON.stringify({ pid, start: String(Number(start) - 1000), boot: record.boot }))
  await t.resolves(opens(), 'the same pid started at another time: reused, stale')
  writeFileSync(lock, JSON.stringify({ pid, start, boot: 'another-boot' }))
  await t.resolves(opens(), 'written during another boot: stale')

  writeFileSync(lock, String(pid))
  utimesSync(lock, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000))
  await t.resolves(opens(), 'a plain pid lock older than the process with that pid: stale')
  writeFileSync(lock, String(pid))
  await t.rejects(opens(), /in use by process/, 'a plain pid lock written after that process started: in use')
})
