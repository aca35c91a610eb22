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
