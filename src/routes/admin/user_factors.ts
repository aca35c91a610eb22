/**
 * Admin API: one second factor at a time, and a user's consents. `DELETE /users/:id/factors`
 * (./users.ts) removes everything after a lost device; these remove only the TOTP authenticator
 * or one passkey (say, a phone that was replaced while the security key is still in use), and
 * list the consents that `DELETE /users/:id/consents/:clientId` withdraws.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import {
  FactorRemoved, PasskeyParams, UserConsents, UserIdParams, errorResponses,
} from '../../schemas/admin.js'
import { notFound } from './views.js'

const security = [{ bearerAuth: [] }]
const tags = ['users']

export default async function userFactorRoutes (app: FastifyInstance): Promise<void> {
  app.delete<{ Params: { id: string } }>('/users/:id/factors/totp', {
    schema: { tags, security, summary: 'Remove the user\'s TOTP authenticator (passkeys and recovery codes stay)', params: UserIdParams, response: { 200: FactorRemoved, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const removed = await app.secondFactors.removeTOTP(id)
    if (removed) await app.audit.record({ type: 'totp_removed', actor: request.admin!.sub, subject: id, ip: request.ip })
    return { user_id: id, removed }
  })

  app.delete<{ Params: { id: string, credentialId: string } }>('/users/:id/factors/passkeys/:credentialId', {
    schema: { tags, security, summary: 'Remove one of the user\'s passkeys', params: PasskeyParams, response: { 200: FactorRemoved, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id, credentialId } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    // The store matches user and credential together: another user's passkey is never touched.
    const removed = await app.secondFactors.removePasskey(id, credentialId)
    if (!removed) throw notFound('passkey')
    await app.audit.record({ type: 'passkey_removed', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { credential_id: credentialId } })
    return { user_id: id, removed }
  })

  app.get<{ Params: { id: string } }>('/users/:id/consents', {
    schema: { tags, security, summary: 'The clients the user consented to, with the scopes, newest first (at most 200)', params: UserIdParams, response: { 200: UserConsents, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const consents = await app.consents.listForUser(id, 200)
    return { items: consents.map((c) => ({ client_id: c.clientId, scopes: c.scopes, updated_at: c.updatedAt.toISOString() })) }
  })
}
