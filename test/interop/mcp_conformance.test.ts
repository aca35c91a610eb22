/**
 * The MCP project's own conformance suite (`@modelcontextprotocol/conformance`), authorization-
 * server scenarios, against a real Stamp on loopback: metadata (RFC 8414, including
 * `client_id_metadata_document_supported`) and the authorization-code flow with PKCE and
 * `resource`. The suite prints the authorization URL and waits for the redirect on its own
 * callback server; the sign-in and consent are scripted here with a cookie-keeping client.
 * Needs Node ≥ 22 (the suite uses `fs.globSync`).
 *
 * @module
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { build, createClient, createUser } from '../helper.js'
import { Browser, hiddenFields } from '../fixtures/browser.js'
import { freePort } from '../fixtures/stamp_server.js'

const RESOURCE = 'https://mcp.example.com/mcp'
const suite = join(createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/package.json'), '../dist/index.js')

t.test('MCP conformance: authorization-server scenarios', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = await build(t, { env: { ISSUER: issuer } })
  await app.listen({ port, host: '127.0.0.1' })
  const callbackPort = await freePort()
  const callback = `http://127.0.0.1:${callbackPort}/callback`
  const { client } = await createClient(app, {
    public: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [callback], requirePkce: true,
    scopes: ['openid', 'offline_access', 'mcp:tools.read'], audiences: [RESOURCE],
  })
  const alice = await createUser(app, 'alice', 'correct horse battery staple', ['mcp:tools.read'])
  const out = mkdtempSync(join(tmpdir(), 'stamp-conformance-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))

  const child = spawn(process.execPath, [suite, 'authorization', '--url', issuer, '--client-id', client.id, '--resource', RESOURCE, '--port', String(callbackPort), '-o', out], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' },
  })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  let signedIn: Promise<void> | undefined
  const drive = async (url: string) => {
    const browser = new Browser(app, issuer)
    const login = await browser.follow(url)
    let step = await browser.signIn(login.res, alice.username, alice.password)
    if (!step.location) step = await browser.follow(`${issuer}/consent`, { ...hiddenFields(step.res.body), decision: 'allow' })
    if (!step.location) throw new Error(`no redirect after sign-in: ${step.res.statusCode}`)
    t.equal(step.location.origin + step.location.pathname, callback, 'redirected to the suite\'s callback')
    await fetch(step.location) // hand the code to the suite
  }
  child.stdout.on('data', (d) => {
    stdout += d
    const match = /(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)/.exec(stdout)
    if (match && !signedIn) signedIn = drive(match[1])
  })
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill(); resolve(null) }, 60_000)
    child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
  })
  await signedIn
  t.ok(signedIn, 'the suite asked for a sign-in')

  const checks = collectChecks(out)
  t.comment(checks.map((c) => `${c.status} ${c.id}`).join('\n'))
  const passed = new Set(checks.filter((c) => c.status === 'SUCCESS').map((c) => c.id))
  for (const id of ['authorization-server-metadata', 'authorization-server-metadata-cimd', 'authorization-code-grant']) {
    t.ok(passed.has(id), `${id} passed`)
  }
  const failed = checks.filter((c) => c.status === 'FAILURE')
  t.same(failed, [], 'no failed check')
  const warnings = checks.filter((c) => c.status === 'WARNING').map((c) => c.id)
  t.notOk(warnings.some((w) => /client_id_metadata/i.test(w)), 'no warning about client ID metadata documents any more')
  t.equal(code, 0, `suite exit code\n${stdout}\n${stderr}`)
})

interface Check { id: string, status: string, description?: string }

/** The checks from the suite's result files (one checks.json per scenario). */
function collectChecks (dir: string): Check[] {
  const checks: Check[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (name.endsWith('.json')) {
        const body = JSON.parse(readFileSync(path, 'utf8'))
        for (const c of Array.isArray(body) ? body : body.checks ?? []) if (c && typeof c.status === 'string') checks.push(c)
      }
    }
  }
  walk(dir)
  return checks
}
