/**
 * The published surface: `stamp/verifier` imports only jose and node: built-ins (STYLE §2), and
 * both subpath exports resolve through package.json#exports to the built files.
 *
 * @module
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'

const dir = new URL('../../src/verifier/', import.meta.url)

t.test('src/verifier imports only jose, node: and its own files (fastify only in fastify.ts)', async (t) => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8')
    const specifiers = [...source.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1])
    const allowed = file === 'fastify.ts' ? /^(jose|node:.*|\.\/[a-z_]+\.js|fastify|fastify-plugin)$/ : /^(jose|node:.*|\.\/[a-z_]+\.js)$/
    for (const specifier of specifiers) t.match(specifier, allowed, `${file} imports ${specifier}`)
  }
})

t.test('stamp/verifier and stamp/fastify resolve via the package exports', async (t) => {
  const verifier = await import('stamp/verifier' as string)
  t.type(verifier.createVerifier, 'function')
  t.type(verifier.wwwAuthenticate, 'function')
  t.equal(new verifier.TokenExpired().code, 'ERR_STAMP_TOKEN_EXPIRED')
  const plugin = await import('stamp/fastify' as string)
  t.type(plugin.default, 'function')
  t.equal(plugin.default[Symbol.for('plugin-meta')]?.name, 'stamp-auth')
})
