/**
 * `stamp client create --name N [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
 *  [--backchannel-logout-uri URI] [--scope "a b"] [--audience AUD]... [--exchange-audience AUD]... [--public] [--first-party] [--no-require-pkce] [--dpop-bound]` —
 * prints client_id and, for confidential clients, the client_secret (shown once; only its hash is
 * stored). Grants are checked against the grant registry; authorization_code needs at least one
 * redirect URI. New clients must use PKCE (S256) at the authorization endpoint; a confidential
 * client may opt out with `--no-require-pkce`, a public client always has to.
 *
 * `--auth-method private_key_jwt` with `--jwks-uri URL` or `--jwks-file FILE` (a public JWK Set)
 * registers a client that authenticates with signed assertions (RFC 7523) and gets no secret;
 * `--require-par` makes it push its authorization requests (RFC 9126); `--profile fapi2` holds it
 * to the FAPI 2.0 Security Profile (docs/modern-oauth.md). `--auth-signing-alg ALG` and
 * `--request-signing-alg ALG` register the only algorithm its assertions or request objects may be
 * signed with (OIDC Dynamic Client Registration §2; `any` on update lifts the pin).
 *
 * `--dpop-bound` sets RFC 9449 §5.2 `dpop_bound_access_tokens`: the token endpoint then refuses the
 * client's requests without a DPoP proof.
 *
 * `--refresh-rotation on|off`: whether each refresh returns a new refresh token (RFC 9700
 * §4.14.2); unset, the profile decides (on; off for fapi2, FAPI 2.0 Security Profile §5.3.2.1).
 *
 * `stamp client update ID [--require-pkce | --no-require-pkce] [--dpop-bound | --no-dpop-bound]
 * [--require-par | --no-require-par] [--jwks-uri URL | --jwks-file FILE] [--refresh-rotation on|off]
 * [--auth-signing-alg ALG|any] [--request-signing-alg ALG|any]`
 * changes those settings later.
 *
 * `--grant device_code` (RFC 8628) and `--grant token_exchange` (RFC 8693) name the URN grant
 * types; token exchange needs at least one `--exchange-audience`, the audiences the client may
 * exchange tokens for.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { grantsByType } from '../grants/index.js'
import { generateClientId, generateClientSecret, hashClientSecret } from '../domain/client_auth.js'
import { clientIdProblem, normalizeClientSettings, rotatesRefreshTokens, usesSecret, type ClientSettings } from '../domain/clients.js'
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

const USAGE = 'usage: stamp client create --name N [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--backchannel-logout-uri URI] [--scope "a b"] [--audience AUD]... [--exchange-audience AUD]... [--public] [--first-party] [--no-require-pkce] [--dpop-bound] [--require-mfa]\n' +
  '         [--auth-method client_secret_basic|private_key_jwt] [--jwks-uri URL | --jwks-file FILE] [--auth-signing-alg ALG] [--request-signing-alg ALG] [--require-par] [--profile fapi2] [--refresh-rotation on|off] [--json]\n' +
  '       stamp client update ID [--require-pkce | --no-require-pkce] [--dpop-bound | --no-dpop-bound] [--require-par | --no-require-par] [--jwks-uri URL | --jwks-file FILE] [--require-mfa | --no-require-mfa] [--refresh-rotation on|off] [--auth-signing-alg ALG|any] [--request-signing-alg ALG|any] [--json]\n' +
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
      'exchange-audience': { type: 'string', multiple: true, default: [] },
      public: { type: 'boolean', default: false },
      'first-party': { type: 'boolean', default: false },
      'no-require-pkce': { type: 'boolean', default: false },
      'require-mfa': { type: 'boolean', default: false },
      'auth-method': { type: 'string' },
      'jwks-uri': { type: 'string' },
      'jwks-file': { type: 'string' },
      'auth-signing-alg': { type: 'string' },
      'request-signing-alg': { type: 'string' },
      'require-par': { type: 'boolean', default: false },
      profile: { type: 'string' },
      'dpop-bound': { type: 'boolean', default: false },
      'refresh-rotation': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (!values.name) throw new UsageError('--name is required')
  const method = values['auth-method']
  if (method !== undefined && !['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(method)) throw new UsageError('--auth-method must be client_secret_basic, client_secret_post or private_key_jwt')
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
      exchangeAudiences: values['exchange-audience'],
      tokenEndpointAuthMethod: method === 'private_key_jwt' ? method : null,
      ...keysFromOptions(values),
      tokenEndpointAuthSigningAlg: values['auth-signing-alg'] ?? null,
      requestObjectSigningAlg: values['request-signing-alg'] ?? null,
      requirePushedAuthorizationRequests: values['require-par'],
      profile: values.profile ?? null,
      dpopBoundAccessTokens: values['dpop-bound'],
      refreshTokenRotation: rotationOption(values['refresh-rotation']) ?? null,
    }, [...grantsByType.keys()])
  } catch (err) {
    // The same rules as the admin API; here they are usage errors.
    if (err instanceof OAuthError) throw new UsageError(err.description.replace('a first-party client', '--first-party').replace('one redirect URI', 'one --redirect-uri').replace('one exchange audience', 'one --exchange-audience'))
    throw err
  }
  const grantTypes = settings.grantTypes
  const codeFlow = grantTypes.includes('authorization_code')
  const scope = settings.scopes.join(' ')
  const id = values['client-id'] ?? generateClientId()
  const idProblem = clientIdProblem(id)
  if (idProblem) throw new UsageError(idProblem.replace('client_id', '--client-id'))
  const secret = usesSecret(settings) ? generateClientSecret() : null
  await withContext(config, async (ctx) => {
    if (await ctx.clients.find(id)) throw new CommandError(`client ${id} already exists`)
    await ctx.clients.create({ id, secretHash: secret ? hashClientSecret(secret) : null, ...settings, requireMfa: values['require-mfa'] })
    await ctx.audit.record({ type: 'client_created', actor: 'cli', subject: id, clientId: id, detail: { grant_types: grantTypes, scopes: settings.scopes } })
  })
  const output = {
    client_id: id, ...(secret ? { client_secret: secret } : {}), grant_types: [...grantTypes], scope, require_pkce: settings.requirePkce, require_mfa: values['require-mfa'],
    ...(settings.exchangeAudiences?.length ? { exchange_audiences: settings.exchangeAudiences } : {}),
    ...(settings.tokenEndpointAuthMethod ? { token_endpoint_auth_method: settings.tokenEndpointAuthMethod } : {}),
    ...(settings.tokenEndpointAuthSigningAlg ? { token_endpoint_auth_signing_alg: settings.tokenEndpointAuthSigningAlg } : {}),
    ...(settings.requestObjectSigningAlg ? { request_object_signing_alg: settings.requestObjectSigningAlg } : {}),
    ...(settings.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
    ...(settings.profile ? { profile: settings.profile } : {}),
    dpop_bound_access_tokens: settings.dpopBoundAccessTokens ?? false,
    refresh_token_rotation: rotatesRefreshTokens(settings),
  }
  print(values.json, output, secret
    ? `client_id:     ${id}\nclient_secret: ${secret}\n(the secret is shown once; store it now)`
    : settings.tokenEndpointAuthMethod
      ? `client_id: ${id} (private_key_jwt: no secret; it signs client assertions with its registered keys${settings.profile ? `; profile ${settings.profile}` : ''})`
      : `client_id: ${id} (public client${codeFlow ? '; it must send a PKCE code_challenge with S256' : ''})`)
}

async function updateCommand (args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      'require-pkce': { type: 'boolean' },
      'no-require-pkce': { type: 'boolean' },
      'require-mfa': { type: 'boolean' },
      'no-require-mfa': { type: 'boolean' },
      'require-par': { type: 'boolean' },
      'no-require-par': { type: 'boolean' },
      'jwks-uri': { type: 'string' },
      'jwks-file': { type: 'string' },
      'dpop-bound': { type: 'boolean' },
      'no-dpop-bound': { type: 'boolean' },
      'refresh-rotation': { type: 'string' },
      'auth-signing-alg': { type: 'string' },
      'request-signing-alg': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  })
  const [id] = positionals
  if (!id || positionals.length !== 1) throw new UsageError(USAGE)
  if (values['require-pkce'] && values['no-require-pkce']) throw new UsageError('give only one of --require-pkce and --no-require-pkce')
  if (values['require-par'] && values['no-require-par']) throw new UsageError('give only one of --require-par and --no-require-par')
  if (values['dpop-bound'] && values['no-dpop-bound']) throw new UsageError('give only one of --dpop-bound and --no-dpop-bound')
  const pkce = values['require-pkce'] ? true : values['no-require-pkce'] ? false : undefined
  const par = values['require-par'] ? true : values['no-require-par'] ? false : undefined
  if (values['require-mfa'] && values['no-require-mfa']) throw new UsageError('give only one of --require-mfa and --no-require-mfa')
  const mfa = values['require-mfa'] ? true : values['no-require-mfa'] ? false : undefined
  const dpop = values['dpop-bound'] ? true : values['no-dpop-bound'] ? false : undefined
  const keys = values['jwks-uri'] !== undefined || values['jwks-file'] !== undefined ? keysFromOptions(values) : undefined
  const rotation = rotationOption(values['refresh-rotation'])
  const algs = {
    ...(values['auth-signing-alg'] === undefined ? {} : { tokenEndpointAuthSigningAlg: algOption(values['auth-signing-alg']) }),
    ...(values['request-signing-alg'] === undefined ? {} : { requestObjectSigningAlg: algOption(values['request-signing-alg']) }),
  }
  if (pkce === undefined && par === undefined && dpop === undefined && mfa === undefined && keys === undefined && rotation === undefined && !Object.keys(algs).length) throw new UsageError('give exactly one of --require-pkce and --no-require-pkce (or another setting to change)')
  const output: Record<string, unknown> = { client_id: id }
  await withContext(config, async (ctx) => {
    const client = await ctx.clients.find(id)
    if (!client) throw new CommandError(`no client ${id}`)
    if (client.public && pkce === false) throw new CommandError('a public client always has to use PKCE')
    if (client.profile === 'fapi2' && (pkce === false || par === false || dpop === false)) throw new CommandError('the fapi2 profile requires PKCE, PAR and DPoP')
    let patch: Partial<ClientSettings>
    try {
      const { id: _id, secretHash: _hash, ...current } = client
      // The same rules as create: a new key set is checked (public keys only) before it is stored.
      const settings = normalizeClientSettings({
        ...current, ...keys, ...(pkce === undefined ? {} : { requirePkce: pkce }), ...(par === undefined ? {} : { requirePushedAuthorizationRequests: par }),
        ...(dpop === undefined ? {} : { dpopBoundAccessTokens: dpop }),
        ...(rotation === undefined ? {} : { refreshTokenRotation: rotation }),
        ...algs,
      }, [...grantsByType.keys()])
      patch = {
        ...(pkce === undefined ? {} : { requirePkce: settings.requirePkce }),
        ...(dpop === undefined ? {} : { dpopBoundAccessTokens: settings.dpopBoundAccessTokens }),
        ...(par === undefined ? {} : { requirePushedAuthorizationRequests: settings.requirePushedAuthorizationRequests }),
        ...(keys ? { jwks: settings.jwks, jwksUri: settings.jwksUri } : {}),
        ...(mfa === undefined ? {} : { requireMfa: mfa }),
        ...(rotation === undefined ? {} : { refreshTokenRotation: rotation }),
        ...algs,
      }
    } catch (err) {
      if (err instanceof OAuthError) throw new CommandError(err.description)
      throw err
    }
    await ctx.clients.update(id, patch)
    if (pkce !== undefined) output.require_pkce = patch.requirePkce
    if (dpop !== undefined) output.dpop_bound_access_tokens = patch.dpopBoundAccessTokens
    if (par !== undefined) output.require_pushed_authorization_requests = patch.requirePushedAuthorizationRequests
    if (keys) output.jwks_uri = patch.jwksUri ?? null
    if (mfa !== undefined) output.require_mfa = mfa
    if (rotation !== undefined) output.refresh_token_rotation = rotation
    if ('tokenEndpointAuthSigningAlg' in algs) output.token_endpoint_auth_signing_alg = algs.tokenEndpointAuthSigningAlg
    if ('requestObjectSigningAlg' in algs) output.request_object_signing_alg = algs.requestObjectSigningAlg
    await ctx.audit.record({ type: 'client_updated', actor: 'cli', subject: id, clientId: id, detail: { fields: Object.keys(output).filter((k) => k !== 'client_id'), ...output } })
  })
  // Other instances cache clients for CLIENT_CACHE_TTL seconds.
  print(values.json, output, `client ${id}: ${Object.entries(output).slice(1).map(([k, v]) => `${k} ${String(v)}`).join(', ')}`)
}

/** `--refresh-rotation on|off`; undefined when not given. */
function rotationOption (value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined
  if (value !== 'on' && value !== 'off') throw new UsageError('--refresh-rotation must be on or off')
  return value === 'on'
}

/** `--auth-signing-alg` / `--request-signing-alg` on update: an algorithm, or `any` (null) to lift the pin. */
function algOption (value: string): string | null {
  return value === 'any' ? null : value
}

/** `--jwks-uri URL` or `--jwks-file FILE` (a JWK Set in JSON): one of them, or neither. */
function keysFromOptions (values: { 'jwks-uri'?: string, 'jwks-file'?: string }): Pick<ClientSettings, 'jwks' | 'jwksUri'> {
  if (values['jwks-uri'] !== undefined && values['jwks-file'] !== undefined) throw new UsageError('give --jwks-uri or --jwks-file, not both')
  if (values['jwks-file'] === undefined) return { jwks: null, jwksUri: values['jwks-uri'] ?? null }
  let text: string
  try {
    text = readFileSync(values['jwks-file'], 'utf8')
  } catch (err) {
    throw new UsageError(`--jwks-file: ${(err as Error).message}`)
  }
  try {
    return { jwks: JSON.parse(text), jwksUri: null }
  } catch {
    throw new UsageError('--jwks-file must contain a JWK Set in JSON')
  }
}

