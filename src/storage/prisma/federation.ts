/**
 * Upstream identity providers, their links to local users, and the one-time values of the
 * federated sign-in on Prisma. One-time rows (`state`, pending links) are taken with a single
 * DELETE … RETURNING, so two callbacks presenting the same `state` cannot both succeed.
 *
 * @module
 */
import type { PrismaClient } from '../../generated/prisma/client.js'
import type {
  ClaimMapping, FederatedIdentityRecord, FederationStateRecord, FederationStore, IdentityProviderKind, IdentityProviderRecord,
  PendingLinkRecord, UpstreamAuthMethod,
} from '../types.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type ProviderRow = Omit<IdentityProviderRecord, 'kind' | 'authMethod' | 'claimMapping'> & { kind: string, authMethod: string, claimMapping: unknown }

function provider (row: ProviderRow): IdentityProviderRecord {
  return { ...row, kind: row.kind as IdentityProviderKind, authMethod: row.authMethod as UpstreamAuthMethod, claimMapping: (row.claimMapping ?? {}) as ClaimMapping }
}

const unique = (err: unknown) => (err as { code?: string }).code === 'P2002'
const missing = (err: unknown) => (err as { code?: string }).code === 'P2025'

export function prismaFederationStore (prisma: PrismaClient): FederationStore {
  return {
    listProviders: async () => (await prisma.identityProvider.findMany({ orderBy: { slug: 'asc' } })).map(provider),
    async findProvider (idOrSlug) {
      const row = UUID.test(idOrSlug)
        ? await prisma.identityProvider.findUnique({ where: { id: idOrSlug } })
        : await prisma.identityProvider.findUnique({ where: { slug: idOrSlug } })
      return row ? provider(row) : null
    },
    async createProvider (p) {
      try {
        return provider(await prisma.identityProvider.create({ data: { ...p, claimMapping: p.claimMapping as object } }))
      } catch (err) {
        if (unique(err)) return null
        throw err
      }
    },
    async updateProvider (id, patch) {
      try {
        const { claimMapping, ...rest } = patch
        return provider(await prisma.identityProvider.update({ where: { id }, data: { ...rest, ...(claimMapping ? { claimMapping: claimMapping as object } : {}) } }))
      } catch (err) {
        if (missing(err)) return null
        throw err
      }
    },
    async deleteProvider (id) {
      return prisma.$transaction(async (tx) => {
        const links = await tx.federatedIdentity.deleteMany({ where: { providerId: id } })
        const deleted = await tx.identityProvider.deleteMany({ where: { id } })
        return deleted.count ? { links: links.count } : null
      })
    },

    findLink: (providerId, subject) => prisma.federatedIdentity.findUnique({ where: { providerId_subject: { providerId, subject } } }),
    async createLink (link) {
      try {
        return await prisma.federatedIdentity.create({ data: link })
      } catch (err) {
        if (unique(err)) return null
        throw err
      }
    },
    linksForUser: (userId) => prisma.federatedIdentity.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }),
    async removeLink (userId, id) {
      if (!UUID.test(id)) return null
      const rows = await prisma.$queryRaw<FederatedIdentityRecord[]>`DELETE FROM federated_identities WHERE id = ${id}::uuid AND user_id = ${userId}::uuid
        RETURNING id, provider_id AS "providerId", subject, user_id AS "userId", email, created_at AS "createdAt", last_used_at AS "lastUsedAt"`
      return rows[0] ?? null
    },
    async linkUsed (id, now) {
      await prisma.federatedIdentity.updateMany({ where: { id }, data: { lastUsedAt: now } })
    },

    async createState (state) {
      await prisma.federationState.create({ data: state })
    },
    async takeState (stateHash, now) {
      const rows = await prisma.$queryRaw<FederationStateRecord[]>`DELETE FROM federation_states WHERE state_hash = ${stateHash}
        RETURNING state_hash AS "stateHash", purpose, browser_hash AS "browserHash", request_id AS "requestId", provider_id AS "providerId",
          nonce, code_verifier AS "codeVerifier", return_to AS "returnTo", id_token_enc AS "idTokenEnc", expires_at AS "expiresAt"`
      const row = rows[0]
      return row && row.expiresAt > now ? { ...row, providerId: String(row.providerId) } : null
    },

    async createPendingLink (link) {
      // One pending link per request: a second upstream round trip replaces the first.
      await prisma.$transaction([
        prisma.federationPendingLink.deleteMany({ where: { requestId: link.requestId } }),
        prisma.federationPendingLink.create({ data: link }),
      ])
    },
    findPendingLink: (requestId, browserHash, now) => prisma.federationPendingLink.findFirst({ where: { requestId, browserHash, expiresAt: { gt: now } } }),
    async takePendingLink (requestId, browserHash, now) {
      const rows = await prisma.$queryRaw<PendingLinkRecord[]>`DELETE FROM federation_pending_links WHERE request_id = ${requestId} AND browser_hash = ${browserHash}
        RETURNING id, browser_hash AS "browserHash", request_id AS "requestId", provider_id AS "providerId", subject, email, user_id AS "userId", expires_at AS "expiresAt"`
      const row = rows[0]
      return row && row.expiresAt > now ? { ...row, providerId: String(row.providerId), userId: String(row.userId) } : null
    },

    async saveUpstreamSession (sessionId, providerId, idTokenEnc, kekId) {
      await prisma.federatedSession.upsert({ where: { sessionId }, create: { sessionId, providerId, idTokenEnc, kekId }, update: { providerId, idTokenEnc, kekId } })
    },
    findUpstreamSession: (sessionId) => prisma.federatedSession.findUnique({ where: { sessionId }, select: { providerId: true, idTokenEnc: true } }),
  }
}
