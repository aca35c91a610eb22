/**
 * `stamp client create --name N [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
 *  [--backchannel-logout-uri URI] [--scope "a b"] [--audience AUD]... [--public] [--first-party] [--no-require-pkce] [--dpop-bound]` —
 * prints client_id and, for confidential clients, the client_secret (shown once; only its hash is
 * stored). Grants are checked against the grant registry; authorization_code needs at least one
 * redirect URI. New clients must use PKCE (S256) at the authorization endpoint; a confidential
 * client may opt out with `--no-require-pkce`, a public client always has to.
 *
 * `--dpop-bound` sets RFC 9449 §5.2 `dpop_bound_access_tokens`: the token endpoint then refuses the
 * client's requests without a DPoP proof.
 *
 * `stamp client update ID [--require-pkce | --no-require-pkce] [--dpop-bound | --no-dpop-bound]`
 * changes those settings later.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { grantsByType } from '../grants/index.js'
import { generateClientId, generateClientSecret, hashClientSecret } from '../domain/client_auth.js'
import { clientIdProblem, normalizeClientSettings } from '../domain/clients.js'
import { OAuthError } from '../errors.js'
import { withContext } from './context.js'
import { CommandError, print, UsageError } from './output.js'
import { clientListCommand, clientPurgeCommand, clientRevokeCommand } from './client_lifecycle.js'

/**
 * `stamp client disable ID` / `stamp client enable ID`: a disabled client is refused everywhere
 * (authentication, refresh, admin tokens) and disabling revokes its refresh-token families;
 * enabling does not bring them back. Other instances notice within their client cache TTL (5 s);
 * the refresh statement checks the database at once.
 */
async function setDisabled (id: string | undefined, disabled: boolean, json: boolean, config: Config): Promise<void> {
  if (!id) throw new UsageError(`usage: stamp client ${disabled ? 'disable' : 'enable'} CLIENT_ID [--json]`)
  await withContext(config, async (ctx) => {
    const current = await ctx.clients.find(id)
    if (!current) throw new CommandError(`no client ${id}`)
    await ctx.clients.update(id, { disabled })
    const revoked = disabled && !current.disabled ? await ctx.refreshTokens.revokeClientFamilies(id, new Date()) : 0
    await ctx.audit.record({ type: 'client_updated', actor: 'cli', subject: id, clientId: id, detail: { fields: ['disabled'], disabled, refresh_families_revoked: revoked } })
    print(json, { client_id: id, disabled, refresh_families_revoked: revoked },
      disabled ? `client ${id} disabled; ${revoked} refresh-token famil${revoked === 1 ? 'y' : 'ies'} revoked` : `client ${id} enabled`)
  })
}

const USAGE = 'usage: stamp client create --name N [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--backchannel-logout-uri URI] [--scope "a b"] [--audience AUD]... [--public] [--first-party] [--no-require-pkce] [--dpop-bound] [--json]\n' +
  '       stamp client update ID [--require-pkce | --no-require-pkce] [--dpop-bound | --no-dpop-bound] [--json]\n' +
  '       stamp client disable|enable ID [--json]\n' +
  '       stamp client list [--origin admin|dcr|cimd] [--limit N] [--json]\n' +
  '       stamp client revoke ID [--json]\n' +
  '       stamp client purge --unused-days N [--origin dcr|cimd]... [--json]'

export async function clientCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action === 'update') return updateCommand(rest, config)
  if (action === 'disable' || action === 'enable') {
    const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true })
    return setDisabled(positionals[0], action === 'disable', values.json, config)
  }
  if (action === 'list') return clientListCommand(rest, config)
  if (action === 'revoke') return clientRevokeCommand(rest, config)
  if (action === 'purge') return clientPurgeCommand(rest, config)
  if (action !== 'create') throw new UsageError(USAGE)
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      'client-id': { type: 'string' },
      grant: { type: 'string', multiple: true, default: [] },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
      'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
      'backchannel-logout-uri': { type: 'string' },
      scope: { type: 'string', default: '' },
      audience: { type: 'string', multiple: true, default: [] },
      public: { type: 'boolean', default: false },
      'first-party': { type: 'boolean', default: false },
      'no-require-pkce': { type: 'boolean', default: false },
      'dpop-bound': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (!values.name) throw new UsageError('--name is required')
  let settings
  try {
    settings = normalizeClientSettings({
      name: values.name,
      public: values.public,
      firstParty: values['first-party'],
      grantTypes: values.grant,
      redirectUris: values['redirect-uri'],
      postLogoutRedirectUris: values['post-logout-redirect-uri'],
      backchannelLogoutUri: values['backchannel-logout-uri'] ?? null,
      scopes: values.scope.split(' ').filter(Boolean),
      audiences: values.audience,
      requirePkce: !values['no-require-pkce'],
      dpopBoundAccessTokens: values['dpop-bound'],
    }, [...grantsByType.keys()])
  } catch (err) {
    // The same rules as the admin API; here they are usage errors.
    if (err instanceof OAuthError) throw new UsageError(err.description.replace('a first-party client', '--first-party').replace('one redirect URI', 'one --redirect-uri'))
    throw err
  }
  const grantTypes = settings.grantTypes
  const codeFlow = grantTypes.includes('authorization_code')
  const scope = settings.scopes.join(' ')
  const id = values['client-id'] ?? generateClientId()
  const idProblem = clientIdProblem(id)
  if (idProblem) throw new UsageError(idProblem.replace('client_id', '--client-id'))
  const secret = values.public ? null : generateClientSecret()
  await withContext(config, async (ctx) => {
    if (await ctx.clients.find(id)) throw new CommandError(`client ${id} already exists`)
    await ctx.clients.create({ id, secretHash: secret ? hashClientSecret(secret) : null, ...settings })
    await ctx.audit.record({ type: 'client_created', actor: 'cli', subject: id, clientId: id, detail: { grant_types: grantTypes, scopes: settings.scopes } })
  })
  const output = { client_id: id, ...(secret ? { client_secret: secret } : {}), grant_types: [...grantTypes], scope, require_pkce: settings.requirePkce, dpop_bound_access_tokens: settings.dpopBoundAccessTokens ?? false }
  print(values.json, output, secret
    ? `client_id:     ${id}\nclient_secret: ${secret}\n(the secret is shown once; store it now)`
    : `client_id: ${id} (public client${codeFlow ? '; it must send a PKCE code_challenge with S256' : ''})`)
}

async function updateCommand (args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      'require-pkce': { type: 'boolean' },
      'no-require-pkce': { type: 'boolean' },
      'dpop-bound': { type: 'boolean' },
      'no-dpop-bound': { type: 'boolean' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  })
  const [id] = positionals
  if (!id || positionals.length !== 1) throw new UsageError(USAGE)
  const pkceGiven = values['require-pkce'] !== undefined || values['no-require-pkce'] !== undefined
  const dpopGiven = values['dpop-bound'] !== undefined || values['no-dpop-bound'] !== undefined
  if ((values['require-pkce'] && values['no-require-pkce']) || (!pkceGiven && !dpopGiven)) throw new UsageError('give exactly one of --require-pkce and --no-require-pkce')
  if (values['dpop-bound'] && values['no-dpop-bound']) throw new UsageError('give only one of --dpop-bound and --no-dpop-bound')
  const patch: { requirePkce?: boolean, dpopBoundAccessTokens?: boolean } = {}
  if (pkceGiven) patch.requirePkce = values['require-pkce'] === true
  if (dpopGiven) patch.dpopBoundAccessTokens = values['dpop-bound'] === true
  const output = {
    client_id: id,
    ...(patch.requirePkce === undefined ? {} : { require_pkce: patch.requirePkce }),
    ...(patch.dpopBoundAccessTokens === undefined ? {} : { dpop_bound_access_tokens: patch.dpopBoundAccessTokens }),
  }
  await withContext(config, async (ctx) => {
    const client = await ctx.clients.find(id)
    if (!client) throw new CommandError(`no client ${id}`)
    if (client.public && patch.requirePkce === false) throw new CommandError('a public client always has to use PKCE')
    await ctx.clients.update(id, patch)
    const { client_id: _, ...detail } = output
    await ctx.audit.record({ type: 'client_updated', actor: 'cli', subject: id, clientId: id, detail: { fields: Object.keys(detail), ...detail } })
  })
  // Other instances cache clients for CLIENT_CACHE_TTL seconds.
  print(values.json, output, `client ${id}: ${Object.entries(output).slice(1).map(([k, v]) => `${k} ${v}`).join(', ')}`)
}
