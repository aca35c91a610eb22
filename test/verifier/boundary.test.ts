/**
 * The published surface: `stamp-verifier` imports only jose and node: built-ins (STYLE §2), and
 * its entry points resolve through its package.json#exports to the built files (the server
 * resolves the workspace package the way a user resolves the installed one).
 *
 * @module
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'

const dir = new URL('../../packages/verifier/src/', import.meta.url)

t.test('packages/verifier/src imports only jose, node: and its own files (fastify only in fastify.ts)', async (t) => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8')
    const specifiers = [...source.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1])
    const allowed = file === 'fastify.ts' ? /^(jose|node:.*|\.\/[a-z_]+\.js|fastify|fastify-plugin)$/ : /^(jose|node:.*|\.\/[a-z_]+\.js)$/
    for (const specifier of specifiers) t.match(specifier, allowed, `${file} imports ${specifier}`)
  }
})

t.test('stamp-verifier, /fastify and /http resolve via the package exports', async (t) => {
  const verifier = await import('stamp-verifier' as string)
  t.type(verifier.createVerifier, 'function')
  t.type(verifier.wwwAuthenticate, 'function')
  t.equal(new verifier.TokenExpired().code, 'ERR_STAMP_TOKEN_EXPIRED')
  t.type(verifier.bearerAuth, 'function')
  const plugin = await import('stamp-verifier/fastify' as string)
  t.type(plugin.default, 'function')
  t.equal(plugin.default[Symbol.for('plugin-meta')]?.name, 'stamp-auth')
  const http = await import('stamp-verifier/http' as string)
  t.type(http.bearerAuth, 'function')
})

t.test('the verifier package depends on jose only; fastify and fastify-plugin are peers', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../packages/verifier/package.json', import.meta.url), 'utf8'))
  t.same(Object.keys(pkg.dependencies), ['jose'])
  t.same(Object.keys(pkg.peerDependencies).sort(), ['fastify', 'fastify-plugin'])
  const root = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  t.equal(root.dependencies[pkg.name], pkg.version, 'the server depends on the workspace package at its version')
})
