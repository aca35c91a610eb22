/**
 * Admin API: refresh-token families (one per sign-in, RFC 9700 §4.14.2 rotation chains): list
 * per user or per client, or revoke one. Revoking all of a user's ("sign out everywhere") is
 * POST /users/:id/sign-out in ./sessions.ts, which ends their SSO sessions as well.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import {
  ClientIdParams, FamilyParams, PageQuery, RefreshFamily, RefreshFamilyPage, UserIdParams, errorResponses,
  type PageQuery as PageInput,
} from '../../schemas/admin.js'
import { familyView, notFound, paged } from './views.js'

const tags = ['refresh-token families']
const security = [{ bearerAuth: [] }]

export default async function familyRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string }, Querystring: PageInput }>('/users/:id/refresh-families', {
    schema: { tags, security, summary: 'A user\'s refresh-token families', params: UserIdParams, querystring: PageQuery, response: { 200: RefreshFamilyPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor } = request.query
    return paged(await app.refreshTokens.listFamilies({ userId: request.params.id }, { limit, cursor }, new Date()), limit, (f) => f.familyId, familyView)
  })

  app.get<{ Params: { id: string }, Querystring: PageInput }>('/clients/:id/refresh-families', {
    schema: { tags, security, summary: 'A client\'s refresh-token families', params: ClientIdParams, querystring: PageQuery, response: { 200: RefreshFamilyPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor } = request.query
    return paged(await app.refreshTokens.listFamilies({ clientId: request.params.id }, { limit, cursor }, new Date()), limit, (f) => f.familyId, familyView)
  })

  app.get<{ Params: { familyId: string } }>('/refresh-families/:familyId', {
    schema: { tags, security, summary: 'One refresh-token family', params: FamilyParams, response: { 200: RefreshFamily, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const family = await app.refreshTokens.findFamily(request.params.familyId, new Date())
    if (!family) throw notFound('refresh-token family')
    return familyView(family)
  })

  app.post<{ Params: { familyId: string } }>('/refresh-families/:familyId/revoke', {
    schema: { tags, security, summary: 'Revoke one refresh-token family', params: FamilyParams, response: { 200: RefreshFamily, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { familyId } = request.params
    const now = new Date()
    if (!await app.refreshTokens.findFamily(familyId, now)) throw notFound('refresh-token family')
    const revoked = await app.refreshTokens.revokeFamily(familyId, now)
    const family = (await app.refreshTokens.findFamily(familyId, now))!
    await app.audit.record({ type: 'refresh_family_revoked', actor: request.admin!.sub, subject: familyId, clientId: family.clientId, ip: request.ip, detail: { user_id: family.userId, tokens_revoked: revoked } })
    return familyView(family)
  })
}
