/**
 * `stamp idp create|list|show|update|delete`: upstream identity providers (docs/federation.md),
 * through the same service as the admin API (domain/federation/providers.ts): the secret (from
 * stdin, never an argument: it would show in `ps` and shell history) or the private key file is
 * sealed with the KEK; output never shows it.
 *
 *     stamp idp create --name corp --issuer https://login.corp.example --client-id ID --client-secret-stdin \
 *       [--display-name "Corp SSO"] [--scope "openid email profile"] [--claim-mapping sub=oid,username=upn] [--jit] \
 *       [--domain corp.example]... [--upstream-logout] [--disabled]
 *     stamp idp create --name github --kind oauth2 --authorization-endpoint URL --token-endpoint URL --userinfo-endpoint URL \
 *       --client-id ID --client-secret-stdin --scope "read:user user:email" --claim-mapping sub=id,username=login \
 *       --emails-endpoint https://api.github.com/user/emails
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { ClaimMappingError, parseClaimMapping } from '../domain/federation/claims.js'
import { ProviderError, type ProviderInput } from '../domain/federation/providers.js'
import { withContext, type CLIContext } from './context.js'
import { CommandError, print, readStdin, table, UsageError } from './output.js'

const USAGE = 'usage: stamp idp create --name NAME (--issuer URL | --kind oauth2 --authorization-endpoint URL --token-endpoint URL --userinfo-endpoint URL [--emails-endpoint URL]) --client-id ID\n' +
  '           [--client-secret-stdin | --private-key-file FILE] [--auth-method M] [--display-name TEXT] [--scope "openid email profile"]\n' +
  '           [--claim-mapping sub=C,email=C,name=C,username=C] [--jit] [--domain D]... [--upstream-logout] [--disabled] [--json]\n' +
  '       stamp idp update NAME [same options; --no-jit --no-upstream-logout --enabled --disabled --no-domains] [--json]\n' +
  '       stamp idp list|show NAME|delete NAME [--json]'

const OPTIONS = {
  name: { type: 'string' },
  'display-name': { type: 'string' },
  kind: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret-stdin': { type: 'boolean' },
  'private-key-file': { type: 'string' },
  'auth-method': { type: 'string' },
  scope: { type: 'string' },
  'authorization-endpoint': { type: 'string' },
  'token-endpoint': { type: 'string' },
  'userinfo-endpoint': { type: 'string' },
  'emails-endpoint': { type: 'string' },
  'claim-mapping': { type: 'string' },
  jit: { type: 'boolean' },
  'no-jit': { type: 'boolean' },
  domain: { type: 'string', multiple: true },
  'no-domains': { type: 'boolean' },
  'upstream-logout': { type: 'boolean' },
  'no-upstream-logout': { type: 'boolean' },
  enabled: { type: 'boolean' },
  disabled: { type: 'boolean' },
  json: { type: 'boolean', default: false },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS, allowPositionals: true }>>['values']

function flag (on: boolean | undefined, off: boolean | undefined, name: string): boolean | undefined {
  if (on && off) throw new UsageError(`--${name} and --no-${name} contradict each other`)
  return on ? true : off ? false : undefined
}

async function inputOf (values: Values): Promise<ProviderInput> {
  if (values['client-secret-stdin'] && values['private-key-file']) throw new UsageError('--client-secret-stdin or --private-key-file, not both')
  const kind = values.kind
  if (kind !== undefined && kind !== 'oidc' && kind !== 'oauth2') throw new UsageError('--kind must be oidc or oauth2')
  const authMethod = values['auth-method']
  if (authMethod !== undefined && !['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'].includes(authMethod)) {
    throw new UsageError('--auth-method must be client_secret_basic, client_secret_post, private_key_jwt or none')
  }
  let claimMapping
  try {
    claimMapping = values['claim-mapping'] === undefined ? undefined : parseClaimMapping(values['claim-mapping'])
  } catch (err) {
    if (err instanceof ClaimMappingError || err instanceof SyntaxError) throw new UsageError(err.message)
    throw err
  }
  if (values.domain && values['no-domains']) throw new UsageError('--domain and --no-domains contradict each other')
  return {
    slug: values.name,
    displayName: values['display-name'],
    kind,
    issuer: values.issuer,
    clientId: values['client-id'],
    clientSecret: values['client-secret-stdin'] ? await readStdin() : undefined,
    privateKey: values['private-key-file'] ? readFileSync(values['private-key-file'], 'utf8') : undefined,
    authMethod: authMethod as ProviderInput['authMethod'],
    scope: values.scope,
    authorizationEndpoint: values['authorization-endpoint'],
    tokenEndpoint: values['token-endpoint'],
    userinfoEndpoint: values['userinfo-endpoint'],
    emailsEndpoint: values['emails-endpoint'],
    claimMapping,
    jit: flag(values.jit, values['no-jit'], 'jit'),
    domains: values['no-domains'] ? [] : values.domain,
    enabled: values.enabled && values.disabled ? (() => { throw new UsageError('--enabled and --disabled contradict each other') })() : values.enabled ? true : values.disabled ? false : undefined,
    upstreamLogout: flag(values['upstream-logout'], values['no-upstream-logout'], 'upstream-logout'),
  }
}

async function providers (ctx: CLIContext) {
  const [{ loadKEKFor }, { IdentityProviders }, { prismaFederationStore }, pino, { loggerOptions }] = await Promise.all([
    import('../domain/keyring.js'), import('../domain/federation/providers.js'), import('../storage/prisma/federation.js'), import('pino'), import('../logging.js'),
  ])
  const log = pino.default({ ...loggerOptions('warn') }, pino.default.destination(2))
  return new IdentityProviders({
    store: prismaFederationStore(ctx.prisma), kek: await loadKEKFor(ctx.config, ctx.keys, log), audit: ctx.audit,
    issuer: ctx.config.issuer, allowInsecure: ctx.config.federation.allowLoopback,
  })
}

function text (view: ReturnType<Awaited<ReturnType<typeof providers>>['view']>): string {
  const lines: Array<[string, unknown]> = [
    ['name', view.slug], ['display name', view.display_name], ['kind', view.kind], ['issuer', view.issuer], ['client id', view.client_id],
    ['auth method', view.auth_method], ['credential', view.credential_set ? 'set (sealed)' : 'none'], ['scope', view.scope],
    ['authorization endpoint', view.authorization_endpoint], ['token endpoint', view.token_endpoint], ['userinfo endpoint', view.userinfo_endpoint],
    ['emails endpoint', view.emails_endpoint],
    ['claim mapping', Object.entries(view.claim_mapping).map(([k, v]) => `${k}=${v}`).join(',') || '(defaults)'], ['jit', view.jit],
    ['domains', view.domains.join(' ') || '-'], ['enabled', view.enabled], ['upstream logout', view.upstream_logout], ['redirect uri', view.redirect_uri],
  ]
  if (view.public_jwk) lines.push(['public jwk', JSON.stringify(view.public_jwk)])
  return lines.map(([k, v]) => `${k.padEnd(24)}${v ?? '-'}`).join('\n')
}

export async function idpCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (!action || !['create', 'list', 'show', 'update', 'delete'].includes(action)) throw new UsageError(USAGE)
  const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true })
  const json = values.json
  const input = action === 'create' || action === 'update' ? await inputOf(values) : undefined
  await withContext(config, async (ctx) => {
    const idps = await providers(ctx)
    try {
      switch (action) {
        case 'list': {
          const views = (await idps.list()).map((p) => idps.view(p))
          print(json, { items: views }, views.length ? table(views.map((v) => ({ name: v.slug, kind: v.kind, issuer: v.issuer ?? v.authorization_endpoint, jit: v.jit, enabled: v.enabled, domains: v.domains.join(' ') || null })), ['name', 'kind', 'issuer', 'jit', 'enabled', 'domains']) : 'no identity providers')
          return
        }
        case 'show': {
          const p = positionals[0] && await idps.find(positionals[0])
          if (!p) throw new CommandError(`no identity provider ${positionals[0] ?? ''}`.trim())
          print(json, idps.view(p), text(idps.view(p)))
          return
        }
        case 'create': {
          if (!input!.slug || !input!.clientId) throw new UsageError(USAGE)
          const created = idps.view(await idps.create(input!, { actor: 'cli' }))
          print(json, created, `created identity provider ${created.slug}\n${text(created)}\n\nregister this redirect URI at the provider: ${created.redirect_uri}`)
          return
        }
        case 'update': {
          if (!positionals[0]) throw new UsageError(USAGE)
          const updated = idps.view(await idps.update(positionals[0], { ...input!, slug: undefined }, { actor: 'cli' }))
          print(json, updated, `updated identity provider ${updated.slug}\n${text(updated)}`)
          return
        }
        case 'delete': {
          if (!positionals[0]) throw new UsageError(USAGE)
          const { provider, links } = await idps.delete(positionals[0], { actor: 'cli' })
          print(json, { id: provider.id, slug: provider.slug, links_removed: links }, `deleted identity provider ${provider.slug} and ${links} link${links === 1 ? '' : 's'}`)
        }
      }
    } catch (err) {
      if (err instanceof ProviderError) throw new CommandError(err.message)
      throw err
    }
  })
}
