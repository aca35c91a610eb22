/**
 * `stamp-verifier` as users install it: `npm pack` builds a tarball, which is installed with npm
 * from the registry into throw-away projects outside the repository (no access to its
 * node_modules), and verifies real Stamp tokens there: the orders-service example (Fastify
 * plugin), installed exactly as its README says, and a `node:http` server using `bearerAuth`.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ROOT, run } from '../fixtures/process.js'
import { startStamp } from '../fixtures/stamp_server.js'

const pkg = JSON.parse(readFileSync(join(ROOT, 'packages/verifier/package.json'), 'utf8')) as { name: string, version: string }
const fastifyVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.fastify

// The parent npm (npm test) exports npm_config_* and npm_package_*; a user's shell has none.
function cleanEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_PATH' && k !== 'NODE_OPTIONS') env[k] = v
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' }
}

async function npm (args: string[], cwd: string) {
  const result = await run('npm', args, { cwd, env: cleanEnv(), timeoutMs: 180_000 })
  if (result.code !== 0) throw new Error(`npm ${args.join(' ')} failed:\n${result.stderr.slice(-3000)}`)
  return result
}

/** Packages installed under `dir` (from npm's hidden lockfile), by name. */
function installed (dir: string): Map<string, { dependencies?: Record<string, string>, peerDependencies?: Record<string, string> }> {
  const lock = JSON.parse(readFileSync(join(dir, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, object> }
  return new Map(Object.entries(lock.packages).map(([path, meta]) => [path.replace(/^.*node_modules\//, ''), meta]))
}

/** The names reachable from `root` through dependencies (and non-optional peers npm installed). */
function closure (packages: ReturnType<typeof installed>, root: string): Set<string> {
  const seen = new Set<string>()
  const todo = [root]
  while (todo.length) {
    const name = todo.pop()!
    if (seen.has(name) || !packages.has(name)) continue
    seen.add(name)
    todo.push(...Object.keys(packages.get(name)!.dependencies ?? {}))
  }
  return seen
}

function assertOutsideAnyNodeModules (t: Test, dir: string) {
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) {
    t.notOk(existsSync(join(d, 'node_modules')), `no node_modules above the throw-away project (${d})`)
  }
  t.notOk(dir.startsWith(ROOT), 'the throw-away project is outside the repository')
}

t.test('npm pack → install into empty projects → verify real Stamp tokens', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'stamp-verifier-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))

  // Pack a copy of the workspace package, so the repository's own dist is never rebuilt under
  // tests that import it; its node_modules points at the repository's for the build (prepack).
  const source = join(work, 'source')
  mkdirSync(source)
  for (const entry of ['package.json', 'README.md', 'tsconfig.json', 'src']) cpSync(join(ROOT, 'packages/verifier', entry), join(source, entry), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'))
  const packed = await npm(['pack', '--pack-destination', work, '--json'], source)
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string, files: { path: string }[] }]
  const tarball = join(work, filename)
  t.equal(filename, `${pkg.name}-${pkg.version}.tgz`)
  const paths = files.map((f) => f.path)
  for (const entry of ['index', 'fastify', 'http']) {
    t.ok(paths.includes(`dist/${entry}.js`), `dist/${entry}.js packed`)
    t.ok(paths.includes(`dist/${entry}.d.ts`), `dist/${entry}.d.ts packed (types included)`)
  }
  t.notOk(paths.some((p) => p.startsWith('src/')), 'no sources in the tarball')

  const stamp = await startStamp(t)
  const client = await stamp.client({ scopes: ['orders:read', 'orders:write'], audiences: ['https://orders.example'] })
  const token = await stamp.accessToken(client, { scope: 'orders:read', resource: 'https://orders.example' })

  t.test('node:http: the tarball alone adds at most 3 packages, and bearerAuth verifies a Stamp token', async (t) => {
    const app = join(work, 'http-app')
    mkdirSync(app)
    assertOutsideAnyNodeModules(t, app)
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'http-app', private: true, type: 'module' }))
    await npm(['install', '--prefix', app, tarball], app)
    const names = [...installed(app).keys()].filter(Boolean).sort()
    t.ok(names.length <= 3, `installed: ${names.join(', ')}`)
    t.same(names, ['fastify-plugin', 'jose', 'stamp-verifier'])

    writeFileSync(join(app, 'check.mjs'), `
      import { createServer } from 'node:http'
      import { bearerAuth } from 'stamp-verifier/http'
      const [issuer, token] = process.argv.slice(2)
      const auth = bearerAuth({ issuer, audience: 'https://orders.example', realm: 'orders' })
      const server = createServer(async (req, res) => {
        const claims = await auth.authorize(req, res, req.url === '/write' ? ['orders:write'] : ['orders:read'])
        if (!claims) return
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub, scope: claims.scope }))
      })
      await new Promise((r) => server.listen(0, '127.0.0.1', r))
      const base = 'http://127.0.0.1:' + server.address().port
      const answer = async (path, headers) => { const res = await fetch(base + path, { headers }); return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.json() } }
      const out = {
        ok: await answer('/read', { authorization: 'Bearer ' + token }),
        scope: await answer('/write', { authorization: 'Bearer ' + token }),
        missing: await answer('/read', {}),
        forged: await answer('/read', { authorization: 'Bearer ' + token.slice(0, -4) + 'AAAA' }),
        resolved: import.meta.resolve('stamp-verifier'),
      }
      server.close()
      console.log(JSON.stringify(out))
    `)
    const result = await run(process.execPath, ['check.mjs', stamp.issuer, token], { cwd: app, env: cleanEnv() })
    t.equal(result.code, 0, result.stderr)
    const out = JSON.parse(result.stdout)
    t.ok(out.resolved.startsWith(`file://${app}/node_modules/stamp-verifier/`), 'resolved from the throw-away project')
    t.equal(out.ok.status, 200)
    t.equal(out.ok.body.sub, client.client.id)
    t.equal(out.scope.status, 403)
    t.match(out.scope.challenge, /error="insufficient_scope".*scope="orders:write"/)
    t.equal(out.missing.status, 401)
    t.equal(out.missing.challenge, 'Bearer realm="orders"')
    t.equal(out.forged.status, 401)
    t.equal(out.forged.body.error, 'invalid_token')

    // The types are real: a consumer's tsc sees claims.sub as a string.
    writeFileSync(join(app, 'types.ts'), `
      import { createVerifier, type AccessTokenClaims } from 'stamp-verifier'
      import { bearerAuth } from 'stamp-verifier/http'
      const verifier = createVerifier({ issuer: 'https://stamp.example', audience: 'https://orders.example' })
      export async function subject (token: string): Promise<string> {
        const claims: AccessTokenClaims = await verifier.verify(token)
        // @ts-expect-error sub is a string, not a number
        const wrong: number = claims.sub
        void wrong
        return claims.sub
      }
      export const auth = bearerAuth({ verifier })
    `)
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { noEmit: true, strict: true, skipLibCheck: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', lib: ['es2023', 'dom'], types: [] },
      files: ['types.ts'],
    }))
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, env: cleanEnv() })
    t.equal(tsc.code, 0, `tsc on the consumer's code: ${tsc.stdout}${tsc.stderr}`)
  })

  t.test('Fastify: the orders-service example, installed as its README says, verifies a Stamp token', async (t) => {
    const app = join(work, 'orders-service')
    mkdirSync(app)
    assertOutsideAnyNodeModules(t, app)
    for (const file of readdirSync(join(ROOT, 'examples/orders-service'))) cpSync(join(ROOT, 'examples/orders-service', file), join(app, file))
    await npm(['install', '--prefix', app, `fastify@${fastifyVersion}`, tarball], app)
    const packages = installed(app)
    const framework = closure(packages, 'fastify')
    const extra = [...packages.keys()].filter((name) => name && !framework.has(name)).sort()
    t.ok(extra.length <= 3, `besides fastify's ${framework.size} packages: ${extra.join(', ')}`)
    t.same(extra, ['fastify-plugin', 'jose', 'stamp-verifier'])

    writeFileSync(join(app, 'check.mjs'), `
      import { buildOrdersService } from './app.js'
      const [issuer, token] = process.argv.slice(2)
      const app = await buildOrdersService({ issuer })
      const get = (headers) => app.inject({ method: 'GET', url: '/orders', headers })
      const ok = await get({ authorization: 'Bearer ' + token })
      const missing = await get({})
      const post = await app.inject({ method: 'POST', url: '/orders', headers: { authorization: 'Bearer ' + token }, payload: { item: 'tea' } })
      console.log(JSON.stringify({
        ok: { status: ok.statusCode, body: ok.json() },
        missing: { status: missing.statusCode, challenge: missing.headers['www-authenticate'] },
        post: { status: post.statusCode, body: post.json() },
        resolved: import.meta.resolve('stamp-verifier/fastify'),
      }))
      await app.close()
    `)
    const result = await run(process.execPath, ['check.mjs', stamp.issuer, token], { cwd: app, env: cleanEnv() })
    t.equal(result.code, 0, result.stderr)
    const out = JSON.parse(result.stdout)
    t.ok(out.resolved.startsWith(`file://${app}/node_modules/stamp-verifier/`), 'resolved from the throw-away project')
    t.equal(out.ok.status, 200)
    t.same(out.ok.body, { orders: [] })
    t.equal(out.missing.status, 401)
    t.equal(out.missing.challenge, 'Bearer realm="orders"')
    t.equal(out.post.status, 403, 'orders:write is missing')
    t.equal(out.post.body.error, 'insufficient_scope')
  })
})
