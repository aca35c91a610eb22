/**
 * Admin API: a user's links to upstream identity providers (issue 16), the list their account
 * page shows. `DELETE /users/:id/identities/:linkId` removes one link (by link id) or every link
 * of the user to one provider (by provider id): the user then signs in some other way, and the
 * next sign-in through that provider is an unknown identity again (a pending link or a new user,
 * never a silent re-link). Each removal is audited (`federated_identity_unlinked`, via `admin`).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { UserIdParams, UserIdentities, UserIdentitiesRemoved, UserIdentityParams, errorResponses } from '../../schemas/admin.js'
import type { FederatedIdentityRecord, IdentityProviderRecord } from '../../storage/types.js'
import { notFound } from './views.js'

const security = [{ bearerAuth: [] }]
const tags = ['users']

function view (l: FederatedIdentityRecord & { provider: IdentityProviderRecord | null }) {
  return {
    id: l.id, provider_id: l.providerId, provider: l.provider?.slug ?? null, provider_display_name: l.provider?.displayName ?? null,
    subject: l.subject, email: l.email, created_at: l.createdAt.toISOString(), last_used_at: l.lastUsedAt?.toISOString() ?? null,
  }
}

export default async function userIdentityRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>('/users/:id/identities', {
    schema: { tags, security, summary: 'The user\'s linked upstream identities (provider, upstream subject), oldest first', params: UserIdParams, response: { 200: UserIdentities, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    return { items: (await app.federation.linksFor(id)).map(view) }
  })

  app.delete<{ Params: { id: string, linkId: string } }>('/users/:id/identities/:linkId', {
    schema: { tags, security, summary: 'Unlink an upstream identity from the user (by link id, or all links to a provider by provider id)', params: UserIdentityParams, response: { 200: UserIdentitiesRemoved, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id, linkId } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const removed = await app.federation.unlinkByAdmin(id, linkId, { actor: request.admin!.sub, ip: request.ip })
    if (!removed.length) throw notFound('linked identity')
    return { user_id: id, removed: removed.map(view) }
  })
}
