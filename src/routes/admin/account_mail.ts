/**
 * Admin API: mail links. `POST /users/:id/reset-email` sends the user a password reset link
 * (the same mail and cap as "Forgot password?"; nothing changes until the user follows it).
 * Invitations for SIGNUP=invite (also usable under `open`): create (mailed, and the link
 * returned once), list the unused ones, withdraw one.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidRequest } from '../../errors.js'
import { publicIssuer } from '../../http/public_issuer.js'
import {
  InviteBody, InviteCreated, InviteIdParams, InviteList, ResetEmailBody, ResetEmailSent, UserIdParams, errorResponses,
  type InviteBody as InviteInput, type ResetEmailBody as ResetEmailInput,
} from '../../schemas/admin.js'
import type { AccountTokenRecord } from '../../storage/types.js'
import { notFound } from './views.js'
import { emailProblem } from '../../domain/accounts.js'

const security = [{ bearerAuth: [] }]

function inviteView (invite: AccountTokenRecord) {
  return { id: invite.id, email: invite.email, scopes: invite.scopes, created_by: invite.createdBy, created_at: invite.createdAt.toISOString(), expires_at: invite.expiresAt.toISOString() }
}

export default async function accountMailRoutes (app: FastifyInstance): Promise<void> {
  app.post<{ Params: { id: string }, Body: ResetEmailInput }>('/users/:id/reset-email', {
    schema: { tags: ['users'], security, summary: 'Mail the user a password reset link', params: UserIdParams, body: ResetEmailBody, response: { 200: ResetEmailSent, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const user = await app.usersRepository.findById(request.params.id)
    if (!user) throw notFound('user')
    if (!user.email) throw new InvalidRequest('the user has no email address')
    if (user.disabled) throw new InvalidRequest('the user is disabled')
    const sent = await app.accounts.sendReset(user, { issuer: publicIssuer(request), locale: request.body?.locale ?? 'en', ip: request.ip, actor: request.admin!.sub })
    return { sent }
  })

  app.post<{ Body: InviteInput }>('/invites', {
    schema: { tags: ['invites'], security, summary: 'Invite someone to sign up (mailed; the link is returned once)', body: InviteBody, response: { 201: InviteCreated, ...errorResponses } },
  }, async (request, reply) => {
    const { email, locale = 'en' } = request.body
    if (emailProblem(email)) throw new InvalidRequest('email is not a valid address')
    const scopes = [...new Set(request.body.scopes ?? [])]
    const invite = await app.accounts.invite(email, scopes, { issuer: publicIssuer(request), locale, ip: request.ip, actor: request.admin!.sub })
    const record = (await app.accounts.listInvites()).find((i) => i.id === invite.id)!
    return reply.code(201).send({ ...inviteView(record), invite_url: invite.url })
  })

  app.get('/invites', {
    schema: { tags: ['invites'], security, summary: 'Unused, unexpired invitations', response: { 200: InviteList, ...errorResponses } },
  }, async () => ({ items: (await app.accounts.listInvites()).map(inviteView) }))

  app.delete<{ Params: { id: string } }>('/invites/:id', {
    schema: { tags: ['invites'], security, summary: 'Withdraw an invitation', params: InviteIdParams, response: { 204: { type: 'null' }, 404: errorResponses[400], ...errorResponses } },
  }, async (request, reply) => {
    if (!await app.accounts.revokeInvite(request.params.id, request.admin!.sub, request.ip)) throw notFound('invitation')
    return reply.code(204).send()
  })
}
