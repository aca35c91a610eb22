/**
 * Admin API: SSO sessions (one per sign-in at the hosted login page; `sid` in tokens). List a
 * user's live sessions, read one, end one, or end all of a user's ("sign out everywhere").
 *
 * Ending goes through `app.sso`, exactly as RP-initiated logout does: the session's refresh-token
 * families are revoked with it, in one transaction, and every client that received a code in it
 * and registered a back-channel logout URI gets a logout token. Access tokens already issued stay
 * valid at resource servers until they expire (ACCESS_TOKEN_TTL); /userinfo refuses them at once.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ssoFor } from '../../http/public_issuer.js'
import {
  PageQuery, Session, SessionListQuery, SessionPage, SessionParams, SignedOut, UserIdParams, errorResponses, type PageQuery as PageInput,
} from '../../schemas/admin.js'
import { notFound, paged, sessionView } from './views.js'

const tags = ['sessions']
const security = [{ bearerAuth: [] }]

export default async function sessionRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: PageInput }>('/sessions', {
    schema: { tags, security, summary: 'Every user\'s live SSO sessions, by sid', querystring: SessionListQuery, response: { 200: SessionPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor } = request.query
    return paged(await app.sessions.listActive({ limit, cursor }, new Date()), limit, (s) => s.id, sessionView)
  })

  app.get<{ Params: { id: string }, Querystring: PageInput }>('/users/:id/sessions', {
    schema: { tags, security, summary: 'The user\'s live SSO sessions (refresh-token families: /users/{id}/refresh-families)', params: UserIdParams, querystring: PageQuery, response: { 200: SessionPage, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const { limit, cursor } = request.query
    return paged(await app.sessions.listActiveForUser(id, { limit, cursor }, new Date()), limit, (s) => s.id, sessionView)
  })

  app.get<{ Params: { sid: string } }>('/sessions/:sid', {
    schema: { tags, security, summary: 'One SSO session (also ended or expired ones)', params: SessionParams, response: { 200: Session, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const session = await app.sso.findSession(request.params.sid)
    if (!session) throw notFound('session')
    return sessionView(session)
  })

  app.delete<{ Params: { sid: string } }>('/sessions/:sid', {
    schema: { tags, security, summary: 'End one SSO session: revokes its refresh-token families and sends back-channel logout', params: SessionParams, response: { 200: Session, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { sid } = request.params
    if (!await app.sso.findSession(sid)) throw notFound('session')
    // Idempotent: ending an ended session changes nothing and notifies nobody again.
    const ended = await ssoFor(request).logout(sid)
    const session = (await app.sso.findSession(sid))!
    if (ended) {
      await app.audit.record({ type: 'session_ended', actor: request.admin!.sub, subject: session.userId, ip: request.ip, detail: { sid, client_ids: session.clientIds } })
    }
    return sessionView(session)
  })

  app.post<{ Params: { id: string } }>('/users/:id/sign-out', {
    schema: { tags, security, summary: 'Sign the user out everywhere: end all their SSO sessions (with back-channel logout) and revoke all their refresh-token families', params: UserIdParams, response: { 200: SignedOut, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const result = await signOutEverywhere(request, id)
    await app.audit.record({ type: 'user_signed_out_everywhere', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { refresh_families_revoked: result.revoked_families, sessions_ended: result.ended_sessions } })
    return result
  })
}

/**
 * Revokes all of a user's refresh-token families (password-grant sign-ins have no SSO session),
 * then ends each SSO session through `app.sso.logout` for the back-channel notifications (their
 * logout tokens carry the request's public issuer). Families first, so the count covers those
 * bound to sessions as well.
 */
export async function signOutEverywhere (request: FastifyRequest, userId: string): Promise<{ ended_sessions: number, revoked_families: number }> {
  const revoked = await request.server.refreshTokens.revokeUserFamilies(userId, new Date())
  const ended = await ssoFor(request).logoutUser(userId)
  return { ended_sessions: ended, revoked_families: revoked }
}
