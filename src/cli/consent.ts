/**
 * `stamp consent revoke --user U --client C` — forgets a user's remembered consent for a client,
 * so the consent page is shown again on the next sign-in, and revokes the refresh-token families
 * the user gave the client. `--user` takes a username or user id. Access tokens already issued
 * stay valid until they expire (ACCESS_TOKEN_TTL).
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { withContext } from './context.js'
import { withdrawConsent } from '../domain/consent.js'
import { print, UsageError } from './output.js'

const USAGE = 'usage: stamp consent revoke --user USERNAME|ID --client CLIENT_ID [--json]'

export async function consentCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action !== 'revoke') throw new UsageError(USAGE)
  const { values } = parseArgs({
    args: rest,
    options: { user: { type: 'string' }, client: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  })
  if (!values.user || !values.client) throw new UsageError(USAGE)
  await withContext(config, async (ctx) => {
    const user = await ctx.users.findById(values.user!) ?? await ctx.users.findByUsername(values.user!)
    if (!user) throw new UsageError(`no user ${values.user}`)
    const { revoked, refreshFamiliesRevoked } = await withdrawConsent(ctx, user.id, values.client!)
    await ctx.audit.record({ type: 'consent_revoked', actor: 'cli', subject: user.id, clientId: values.client, detail: { refresh_families_revoked: refreshFamiliesRevoked } })
    const families = `${refreshFamiliesRevoked} refresh-token famil${refreshFamiliesRevoked === 1 ? 'y' : 'ies'} revoked`
    print(values.json, { user_id: user.id, client_id: values.client, revoked, refresh_families_revoked: refreshFamiliesRevoked },
      revoked ? `consent of ${user.username} for ${values.client} revoked; ${families}` : `${user.username} had no consent for ${values.client}; ${families}`)
  })
}
