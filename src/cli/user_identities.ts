/**
 * `stamp user identities USER` and `stamp user unlink USER PROVIDER|LINK_ID`: a user's links to
 * upstream identity providers (docs/federation.md), through the same function as the admin API
 * (domain/federation/broker.ts `unlinkIdentities`): each removal is audited. USER is a username
 * or a user id; PROVIDER a provider name or id (all the user's links to it), or one link's id.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { unlinkIdentities, type RemovedLink } from '../domain/federation/broker.js'
import { prismaFederationStore } from '../storage/prisma/federation.js'
import { withContext } from './context.js'
import { CommandError, print, UsageError } from './output.js'

export async function userIdentitiesCommand (action: 'identities' | 'unlink', args: string[], config: Config, usage: string): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true })
  if (positionals.length !== (action === 'unlink' ? 2 : 1)) throw new UsageError(usage)
  await withContext(config, async (ctx) => {
    const name = positionals[0]
    const user = (/^[0-9a-f-]{36}$/i.test(name) ? await ctx.users.findById(name) : null) ?? await ctx.users.findByUsername(name)
    if (!user) throw new CommandError(`no user ${name}`)
    const store = prismaFederationStore(ctx.prisma)
    const view = (l: RemovedLink) => ({
      id: l.id, provider: l.provider?.slug ?? null, provider_id: l.providerId, subject: l.subject, email: l.email, created_at: l.createdAt.toISOString(), last_used_at: l.lastUsedAt?.toISOString() ?? null,
    })
    const line = (v: ReturnType<typeof view>) => `${v.provider ?? v.provider_id}  ${v.subject}  ${v.email ?? '-'}  linked ${v.created_at}, last used ${v.last_used_at ?? 'never'}  (${v.id})`
    if (action === 'identities') {
      const items = await Promise.all((await store.linksForUser(user.id)).map(async (l) => view({ ...l, provider: await store.findProvider(l.providerId) })))
      print(values.json, { user_id: user.id, items }, items.length ? items.map(line).join('\n') : `${user.username} has no linked identity providers`)
      return
    }
    const target = positionals[1]
    const provider = /^[0-9a-f-]{36}$/i.test(target) ? null : await store.findProvider(target)
    const removed = await unlinkIdentities(store, ctx.audit, user.id, provider?.id ?? target, { actor: 'cli' })
    if (!removed.length) throw new CommandError(`${user.username} has no link ${target}`)
    const items = removed.map(view)
    print(values.json, { user_id: user.id, removed: items }, items.map((v) => `unlinked ${line(v)}`).join('\n'))
  })
}
