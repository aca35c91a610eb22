/**
 * Upstream identity providers, their links to local users, and the one-time values of the
 * federated sign-in on Prisma. One-time rows (`state`, pending links) are taken with a single
 * DELETE … RETURNING, so two callbacks presenting the same `state` cannot both succeed.
 *
 * @module
 */
import type pg from 'pg'
import type { PrismaClient } from '../../generated/prisma/client.js'
import type {
  ClaimMapping, FederatedIdentityRecord, FederationStateRecord, FederationStore, IdentityProviderKind, IdentityProviderRecord,
  PendingLinkRecord, UpstreamAuthMethod,
} from '../types.js'
import { isUUID } from '../../ids.js'
import { splitByPrefix } from './joined_rows.js'

type ProviderRow = Omit<IdentityProviderRecord, 'kind' | 'authMethod' | 'claimMapping'> & { kind: string, authMethod: string, claimMapping: unknown }

function provider (row: ProviderRow): IdentityProviderRecord {
  return { ...row, kind: row.kind as IdentityProviderKind, authMethod: row.authMethod as UpstreamAuthMethod, claimMapping: (row.claimMapping ?? {}) as ClaimMapping }
}

/** Thrown inside a transaction to undo it: nothing of a failed confirmation stays. */
class Rollback extends Error {}

const unique = (err: unknown) => (err as { code?: string }).code === 'P2002'
const missing = (err: unknown) => (err as { code?: string }).code === 'P2025'

const PENDING_LINK_COLUMNS = (as: string) => `id AS "${as}id", browser_hash AS "${as}browserHash", request_id AS "${as}requestId",
  provider_id::text AS "${as}providerId", subject AS "${as}subject", email AS "${as}email", user_id::text AS "${as}userId", expires_at AS "${as}expiresAt"`
const STATE_COLUMNS = (as: string) => `state_hash AS "${as}stateHash", purpose AS "${as}purpose", browser_hash AS "${as}browserHash",
  request_id AS "${as}requestId", provider_id::text AS "${as}providerId", nonce AS "${as}nonce", code_verifier AS "${as}codeVerifier",
  return_to AS "${as}returnTo", id_token_enc AS "${as}idTokenEnc", expires_at AS "${as}expiresAt"`

/**
 * What a sign-in leaves for federation to pick up, taken in one statement (it was two DELETEs
 * through Prisma after every sign-in, most of which find nothing): the request's pending link for
 * this browser, and the upstream ID Token held for its session.
 */
const TAKE_SIGN_IN_HOLDS = {
  name: 'federation_take_sign_in_holds',
  text: `WITH link AS (DELETE FROM federation_pending_links WHERE request_id = $1 AND browser_hash = $2 RETURNING ${PENDING_LINK_COLUMNS('link.')}),
  held AS (DELETE FROM federation_states WHERE state_hash = $3 RETURNING ${STATE_COLUMNS('held.')})
  SELECT * FROM (SELECT 1) AS one LEFT JOIN link ON true LEFT JOIN held ON true`,
}

/** `pool`: the pg pool under Prisma, for the statement every sign-in runs (createPool). */
export function prismaFederationStore (prisma: PrismaClient, pool?: pg.Pool): FederationStore {
  return {
    listProviders: async () => (await prisma.identityProvider.findMany({ orderBy: { slug: 'asc' } })).map(provider),
    async findProvider (idOrSlug) {
      const row = isUUID(idOrSlug)
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
      if (!isUUID(id)) return null
      const rows = await prisma.$queryRaw<FederatedIdentityRecord[]>`DELETE FROM federated_identities WHERE id = ${id}::uuid AND user_id = ${userId}::uuid
        RETURNING id, provider_id AS "providerId", subject, user_id AS "userId", email, created_at AS "createdAt", last_used_at AS "lastUsedAt"`
      return rows[0] ?? null
    },
    async removeLinks (userId, linkOrProviderId) {
      if (!isUUID(linkOrProviderId) || !isUUID(userId)) return []
      const rows = await prisma.$queryRaw<FederatedIdentityRecord[]>`DELETE FROM federated_identities
        WHERE user_id = ${userId}::uuid AND (id = ${linkOrProviderId}::uuid OR provider_id = ${linkOrProviderId}::uuid)
        RETURNING id, provider_id AS "providerId", subject, user_id AS "userId", email, created_at AS "createdAt", last_used_at AS "lastUsedAt"`
      return rows.map((r) => ({ ...r, providerId: String(r.providerId), userId: String(r.userId) }))
    },
    async linkUsed (id, now) {
      await prisma.federatedIdentity.updateMany({ where: { id }, data: { lastUsedAt: now } })
    },

    async createState (state) {
      await prisma.federationState.create({ data: state })
    },
    async takeState (stateHash, now) {
      const rows = await prisma.$queryRawUnsafe<FederationStateRecord[]>(`DELETE FROM federation_states WHERE state_hash = $1 RETURNING ${STATE_COLUMNS('')}`, stateHash)
      const row = rows[0]
      return row && row.expiresAt > now ? row : null
    },

    async createPendingLink (link) {
      // One pending link per request: a second upstream round trip replaces the first.
      await prisma.$transaction([
        prisma.federationPendingLink.deleteMany({ where: { requestId: link.requestId } }),
        prisma.federationPendingLink.create({ data: link }),
      ])
    },
    findPendingLink: (requestId, browserHash, now) => prisma.federationPendingLink.findFirst({ where: { requestId, browserHash, expiresAt: { gt: now } } }),

    async takeSignInHolds (requestId, browserHash, stateHash, now) {
      const values = [requestId, browserHash, stateHash]
      const [row] = pool
        ? (await pool.query<Record<string, unknown>>({ ...TAKE_SIGN_IN_HOLDS, values })).rows
        : await prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(TAKE_SIGN_IN_HOLDS.text, ...values)
      // Taken either way; an expired one counts as none. A LEFT JOIN that found none: its key is null.
      const parts = splitByPrefix(row)
      const link = parts.link.id === null ? null : parts.link as unknown as PendingLinkRecord
      const held = parts.held.stateHash === null ? null : parts.held as unknown as FederationStateRecord
      return { pendingLink: link && link.expiresAt > now ? link : null, held: held && held.expiresAt > now ? held : null }
    },

    findPendingLinkById: (id, now) => prisma.federationPendingLink.findFirst({ where: { id, expiresAt: { gt: now } } }),
    async confirmPendingLink (tokenHash, browserHash, now) {
      try {
        return await prisma.$transaction(async (tx) => {
          // One conditional UPDATE takes the token: of two concurrent confirmations one wins.
          const tokens = await tx.$queryRaw<Array<{ userId: string | null, pendingLinkId: string | null }>>`UPDATE account_tokens SET consumed_at = ${now}
            WHERE token_hash = ${tokenHash} AND purpose = 'link_identity' AND consumed_at IS NULL AND expires_at > ${now}
            RETURNING user_id AS "userId", pending_link_id AS "pendingLinkId"`
          const token = tokens[0]
          if (!token?.userId || !token.pendingLinkId) throw new Rollback()
          const pendings = await tx.$queryRaw<PendingLinkRecord[]>`DELETE FROM federation_pending_links
            WHERE id = ${token.pendingLinkId} AND browser_hash = ${browserHash} AND user_id = ${token.userId}::uuid AND expires_at > ${now}
            RETURNING id, browser_hash AS "browserHash", request_id AS "requestId", provider_id AS "providerId", subject, email, user_id AS "userId", expires_at AS "expiresAt"`
          if (!pendings[0]) throw new Rollback()
          const pending = { ...pendings[0], providerId: String(pendings[0].providerId), userId: String(pendings[0].userId) }
          const links = await tx.$queryRaw<FederatedIdentityRecord[]>`INSERT INTO federated_identities (id, provider_id, subject, user_id, email)
            VALUES (gen_random_uuid(), ${pending.providerId}::uuid, ${pending.subject}, ${pending.userId}::uuid, ${pending.email})
            ON CONFLICT (provider_id, subject) DO NOTHING
            RETURNING id, provider_id AS "providerId", subject, user_id AS "userId", email, created_at AS "createdAt", last_used_at AS "lastUsedAt"`
          const link = links[0] ? { ...links[0], providerId: String(links[0].providerId), userId: String(links[0].userId) } : null
          return { pending, link }
        })
      } catch (err) {
        if (err instanceof Rollback) return null
        throw err
      }
    },

    async saveUpstreamSession (sessionId, providerId, idTokenEnc, kekId) {
      await prisma.federatedSession.upsert({ where: { sessionId }, create: { sessionId, providerId, idTokenEnc, kekId }, update: { providerId, idTokenEnc, kekId } })
    },
    findUpstreamSession: (sessionId) => prisma.federatedSession.findUnique({ where: { sessionId }, select: { providerId: true, idTokenEnc: true } }),
  }
}
