/**
 * `stamp consent revoke --user U --client C` — forgets a user's remembered consent for a client,
 * so the consent page is shown again on the next sign-in. `--user` takes a username or user id.
 * Tokens already issued stay valid until they expire or are revoked (RFC 7009).
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { withContext } from './context.js'
import { print, UsageError } from './output.js'

const USAGE = 'usage: stamp consent revoke --user USERNAME|ID --client CLIENT_ID [--json]'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

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
    const user = (UUID.test(values.user!) ? await ctx.users.findById(values.user!) : null) ?? await ctx.users.findByUsername(values.user!)
    if (!user) throw new UsageError(`no user ${values.user}`)
    const revoked = await ctx.consents.revoke(user.id, values.client!)
    if (revoked) await ctx.audit.record({ type: 'consent_revoked', actor: 'cli', subject: user.id, clientId: values.client! })
    print(values.json, { user_id: user.id, client_id: values.client, revoked },
      revoked ? `consent of ${user.username} for ${values.client} revoked` : `${user.username} had no consent for ${values.client}`)
  })
}
