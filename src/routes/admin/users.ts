/**
 * Admin API: users. Create (password policy applies), read, list, update (disable/enable, email,
 * scopes), password reset, and the user's sign-ins.
 *
 * Disabling a user or resetting their password also revokes every refresh-token family of the
 * user ("sign out everywhere"); their access tokens expire within ACCESS_TOKEN_TTL.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { InvalidRequest } from '../../errors.js'
import {
  ADMIN_SCOPE, CreateUserBody, PageQuery, PasswordBody, RefreshFamilyPage, RevokedCount, UpdateUserBody, User, UserIdParams, UserPage,
  errorResponses, type CreateUserBody as CreateUserInput, type PageQuery as PageInput, type PasswordBody as PasswordInput,
  type UpdateUserBody as UpdateUserInput,
} from '../../schemas/admin.js'
import { conflict, familyView, notFound, paged, userView } from './views.js'

const tags = ['users']
const security = [{ bearerAuth: [] }]

export default async function userRoutes (app: FastifyInstance): Promise<void> {
  const checkPassword = (password: string, username: string) => {
    const violation = app.passwordPolicy.violation(password, { username })
    if (violation) throw new InvalidRequest(violation)
  }

  app.get<{ Querystring: PageInput }>('/users', {
    schema: { tags, security, summary: 'List users (by username)', querystring: PageQuery, response: { 200: UserPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor } = request.query
    return paged(await app.usersRepository.list({ limit, cursor }), limit, (u) => u.username, userView)
  })

  app.post<{ Body: CreateUserInput }>('/users', {
    schema: { tags, security, summary: 'Create a user', body: CreateUserBody, response: { 201: User, 409: errorResponses[400], ...errorResponses } },
  }, async (request, reply) => {
    const { username, password, email, admin } = request.body
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
    const { email, disabled, scopes } = request.body
    const user = await app.usersRepository.update(id, {
      ...(email !== undefined ? { email } : {}),
      ...(disabled !== undefined ? { disabled } : {}),
      ...(scopes !== undefined ? { scopes: [...new Set(scopes)] } : {}),
    })
    if (!user) throw notFound('user')
    const revoked = disabled ? await app.refreshTokens.revokeUserFamilies(id, new Date()) : 0
    await app.audit.record({ type: 'user_updated', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { fields: Object.keys(request.body), disabled: user.disabled, refresh_families_revoked: revoked } })
    return userView(user)
  })

  app.post<{ Params: { id: string }, Body: PasswordInput }>('/users/:id/password', {
    schema: { tags, security, summary: 'Set a new password (password policy applies); signs the user out everywhere', params: UserIdParams, body: PasswordBody, response: { 200: RevokedCount, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    const user = await app.usersRepository.findById(id)
    if (!user) throw notFound('user')
    checkPassword(request.body.password, user.username)
    await app.usersRepository.updatePasswordHash(id, await app.passwordHasher.hash(request.body.password))
    const revoked = await app.refreshTokens.revokeUserFamilies(id, new Date())
    await app.audit.record({ type: 'user_password_reset', actor: request.admin!.sub, subject: id, ip: request.ip, detail: { refresh_families_revoked: revoked } })
    return { revoked_families: revoked }
  })

  // TODO(sso): list the user's SSO sessions (the `sessions` table of the SSO branch) here, each
  // with its refresh-token families. Until that lands, a "session" is a refresh-token family:
  // one sign-in through the password grant and every refresh that followed it.
  app.get<{ Params: { id: string }, Querystring: PageInput }>('/users/:id/sessions', {
    schema: { tags, security, summary: 'The user\'s sign-ins (refresh-token families until SSO sessions land)', params: UserIdParams, querystring: PageQuery, response: { 200: RefreshFamilyPage, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    if (!await app.usersRepository.findById(id)) throw notFound('user')
    const { limit, cursor } = request.query
    return paged(await app.refreshTokens.listFamilies({ userId: id }, { limit, cursor }, new Date()), limit, (f) => f.familyId, familyView)
  })
}
