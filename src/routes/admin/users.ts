/**
 * Admin API: users. Create (password policy applies), read, list, update (disable/enable, email,
 * scopes) and password reset. Their sessions are in ./sessions.ts.
 *
 * Disabling a user or resetting their password also signs them out everywhere (./sessions.ts:
 * SSO sessions ended with back-channel logout, every refresh-token family revoked); their access
 * tokens expire within ACCESS_TOKEN_TTL.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidRequest } from '../../errors.js'
import {
  ADMIN_SCOPE, ConsentParams, ConsentRevoked, CreateUserBody, FactorsReset, UserFactors, PasswordBody, SignedOut, UpdateUserBody, User, UserIdParams, UserListQuery, UserPage, type UserListQuery as UserListInput,
  errorResponses, type CreateUserBody as CreateUserInput, type PasswordBody as PasswordInput,
  type UpdateUserBody as UpdateUserInput,
} from '../../schemas/admin.js'
import { conflict, factorsView, notFound, paged, scopeChange, userView } from './views.js'
import { usernameProblem } from '../../domain/usernames.js'
import { signOutEverywhere } from './sessions.js'
import { USER_BASELINE_SCOPES } from '../../domain/scopes.js'
import { withdrawConsent } from '../../domain/consent.js'

const tags = ['users']
const security = [{ bearerAuth: [] }]

export default async function userRoutes (app: FastifyInstance): Promise<void> {
  const checkPassword = (password: string, username: string, hasSecondFactor = false) => {
    const violation = app.passwordPolicy.violation(password, { username, hasSecondFactor })
    if (violation) throw new InvalidRequest(violation)
  }

  app.get<{ Querystring: UserListInput }>('/users', {
    schema: { tags, security, summary: 'List users (by username); `q` searches usernames and emails', querystring: UserListQuery, response: { 200: UserPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor, q } = request.query
    return paged(await app.usersRepository.list({ limit, cursor, query: q }), limit, (u) => u.username, userView)
  })

  app.post<{ Body: CreateUserInput }>('/users', {
    schema: { tags, security, summary: 'Create a user', body: CreateUserBody, response: { 201: User, 409: errorResponses[400], ...errorResponses } },
  }, async (request, reply) => {
    const { username, password, email, admin } = request.body
    const problem = usernameProblem(username)
    if (problem) throw new InvalidRequest(problem)
    checkPassword(password, username)
    const scopes = [...new Set([...(request.body.scopes ?? []), ...(admin ? [ADMIN_SCOPE] : [])])]
    if (await app.usersRepository.findByUsername(username)) throw conflict(`user ${username} already exists`)
    let user
    try {
      user = await app.usersRepository.create({ username, email: email ?? null, passwordHash: await app.passwordHasher.hash(password), scopes })
    } catch (err) {
      // Two concurrent creations of one username: the unique index decides.
      if ((err as { code?: string }).code === 'P2002') throw conflict(`user ${username} already exists`)
      throw err
    }
    await app.audit.record({ type: 'user_created', actor: request.admin!.sub, subject: user.id, ip: request.ip, detail: { scopes } })
    return reply.code(201).send(userView(user))
  })

  app.get<{ Params: { id: string } }>('/users/:id', {
    schema: { tags, security, summary: 'Get a user', params: UserIdParams, response: { 200: User, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const user = await app.usersRepository.findById(request.params.id)
    if (!user) throw notFound('user')
    return userView(user)
  })

  app.patch<{ Params: { id: string }, Body: UpdateUserInput }>('/users/:id', {
    schema: { tags, security, summary: 'Disable or enable a user, change their email or scopes', params: UserIdParams, body: UpdateUserBody, response: { 200: User, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    const { email, disabled, scopes, mfa_required: mfaRequired } = request.body
    const before = scopes !== undefined ? await app.usersRepository.findById(id) : null
    const user = await app.usersRepository.update(id, {
      ...(email !== undefined ? { email } : {}),
      ...(disabled !== undefined ? { disabled } : {}),
      ...(scopes !== undefined ? { scopes: [...new Set(scopes)] } : {}),
      ...(mfaRequired !== undefined ? { mfaRequired } : {}),
    })
    if (!user) throw notFound('user')
    const signedOut = disabled ? await signOutEverywhere(request, id) : { ended_sessions: 0, revoked_families: 0 }
    // Scopes taken away reach refresh tokens: the families holding one are revoked (each refresh
    // also narrows to what the user holds now). The OpenID baseline scopes need no allow-list.
    const removed = (before?.scopes ?? []).filter((s) => !user.scopes.includes(s) && !USER_BASELINE_SCOPES.includes(s))
    if (!disabled && removed.length) signedOut.revoked_families += await app.refreshTokens.revokeFamilies({ userId: id, scopes: removed }, new Date())
    await app.audit.record({ type: 'user_updated', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { fields: Object.keys(request.body), disabled: user.disabled, refresh_families_revoked: signedOut.revoked_families, sessions_ended: signedOut.ended_sessions, ...scopeChange(before?.scopes, user.scopes) } })
    return userView(user)
  })

  app.get<{ Params: { id: string } }>('/users/:id/factors', {
    schema: { tags, security, summary: 'List a user\'s second factors (passkeys, TOTP, recovery codes left)', params: UserIdParams, response: { 200: UserFactors, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const user = await app.usersRepository.findById(request.params.id)
    if (!user) throw notFound('user')
    return factorsView(user.id, user.mfaRequired ?? false, await app.secondFactors.summary(user.id))
  })

  app.delete<{ Params: { id: string } }>('/users/:id/factors', {
    schema: { tags, security, summary: 'Remove all of a user\'s second factors (lost device); with MFA required they enrol again at the next sign-in', params: UserIdParams, response: { 200: FactorsReset, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const removed = await app.secondFactors.resetAll(id)
    await app.audit.record({ type: 'factors_reset', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { passkeys: removed.passkeys, totp: removed.totp, recovery_codes: removed.recoveryCodes } })
    return { user_id: id, passkeys: removed.passkeys, totp: removed.totp, recovery_codes: removed.recoveryCodes }
  })

  app.delete<{ Params: { id: string, clientId: string } }>('/users/:id/consents/:clientId', {
    schema: { tags, security, summary: 'Withdraw a user\'s consent for a client and revoke the refresh tokens it issued', params: ConsentParams, response: { 200: ConsentRevoked, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id, clientId } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const result = await withdrawConsent(app, id, clientId)
    await app.audit.record({ type: 'consent_revoked', actor: request.admin!.sub, subject: id, clientId, ip: request.ip, detail: { refresh_families_revoked: result.refreshFamiliesRevoked } })
    return { user_id: id, client_id: clientId, revoked: result.revoked, refresh_families_revoked: result.refreshFamiliesRevoked }
  })

  app.post<{ Params: { id: string }, Body: PasswordInput }>('/users/:id/password', {
    schema: { tags, security, summary: 'Set a new password (password policy applies); signs the user out everywhere', params: UserIdParams, body: PasswordBody, response: { 200: SignedOut, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    const user = await app.usersRepository.findById(id)
    if (!user) throw notFound('user')
    checkPassword(request.body.password, user.username, await app.secondFactors.hasSecondFactor(id))
    await app.usersRepository.updatePasswordHash(id, await app.passwordHasher.hash(request.body.password))
    const signedOut = await signOutEverywhere(request, id)
    await app.audit.record({ type: 'user_password_reset', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { refresh_families_revoked: signedOut.revoked_families, sessions_ended: signedOut.ended_sessions } })
    return signedOut
  })
}
