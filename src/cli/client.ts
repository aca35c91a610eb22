/**
 * `stamp client create --name N [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
 *  [--backchannel-logout-uri URI] [--scope "a b"] [--audience AUD]... [--public] [--first-party]` —
 * prints client_id and, for confidential clients, the client_secret (shown once; only its hash is
 * stored). Grants are checked against the grant registry; authorization_code needs at least one
 * redirect URI, and a public client always has to use PKCE (S256) at the authorization endpoint.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { grantsByType } from '../grants/index.js'
import { generateClientSecret, hashClientSecret } from '../domain/client_auth.js'
import { withContext } from './context.js'
import { print, UsageError } from './output.js'

export async function clientCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action !== 'create') throw new UsageError('usage: stamp client create --name N [--grant G]... [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--backchannel-logout-uri URI] [--scope "a b"] [--audience AUD]... [--public] [--first-party] [--json]')
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
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (!values.name) throw new UsageError('--name is required')
  const grantTypes = new Set(values.grant.length ? values.grant : ['client_credentials'])
  for (const grant of grantTypes) {
    if (!grantsByType.has(grant)) throw new UsageError(`unknown grant ${grant}; known: ${[...grantsByType.keys()].join(', ')}`)
  }
  // A client that logs users in can refresh: password (and authorization_code) imply refresh_token.
  if (grantTypes.has('password') || grantTypes.has('authorization_code')) grantTypes.add('refresh_token')
  if (values.public && grantTypes.has('client_credentials')) throw new UsageError('a public client cannot use client_credentials')
  if (grantTypes.has('password') && !values['first-party']) throw new UsageError('the password grant requires --first-party')
  const codeFlow = grantTypes.has('authorization_code')
  if (codeFlow && values['redirect-uri'].length === 0) throw new UsageError('the authorization_code grant requires at least one --redirect-uri')
  // A sign-in client without --scope gets the OpenID Connect scopes.
  const scope = values.scope || (codeFlow ? 'openid profile email offline_access' : '')
  for (const uri of [...values['redirect-uri'], ...values['post-logout-redirect-uri'], ...(values['backchannel-logout-uri'] ? [values['backchannel-logout-uri']] : [])]) {
    if (!URL.canParse(uri) || uri.includes('#')) throw new UsageError(`not an absolute URI without fragment: ${uri}`)
  }
  const id = values['client-id'] ?? randomBytes(12).toString('base64url')
  const secret = values.public ? null : generateClientSecret()
  await withContext(config, async (ctx) => {
    if (await ctx.clients.find(id)) throw new UsageError(`client ${id} already exists`)
    await ctx.clients.create({
      id,
      name: values.name!,
      secretHash: secret ? hashClientSecret(secret) : null,
      public: values.public,
      firstParty: values['first-party'],
      grantTypes: [...grantTypes],
      redirectUris: values['redirect-uri'],
      postLogoutRedirectUris: values['post-logout-redirect-uri'],
      backchannelLogoutUri: values['backchannel-logout-uri'] ?? null,
      scopes: scope.split(' ').filter(Boolean),
      audiences: values.audience,
    })
  })
  const output = { client_id: id, ...(secret ? { client_secret: secret } : {}), grant_types: [...grantTypes], scope }
  print(values.json, output, secret
    ? `client_id:     ${id}\nclient_secret: ${secret}\n(the secret is shown once; store it now)`
    : `client_id: ${id} (public client${codeFlow ? '; it must send a PKCE code_challenge with S256' : ''})`)
}
