/**
 * Admin API: upstream identity providers (docs/federation.md). List, create, get, update and
 * delete, through the same service as `stamp idp` (domain/federation/providers.ts), which seals
 * the client secret or private key and writes the audit events. Responses never carry a
 * credential: the response schema has no field for one.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../../errors.js'
import { ProviderError, type ProviderInput } from '../../domain/federation/providers.js'
import {
  CreateIdentityProviderBody, IdentityProvider, IdentityProviderDeleted, IdentityProviderList, IdentityProviderParams, UpdateIdentityProviderBody,
  errorResponses, type CreateIdentityProviderBody as CreateInput, type UpdateIdentityProviderBody as UpdateInput,
} from '../../schemas/admin.js'
import type { ClaimMapping } from '../../storage/types.js'

const tags = ['identity providers']
const security = [{ bearerAuth: [] }]

function input (body: Partial<CreateInput> & UpdateInput): ProviderInput {
  return {
    slug: body.slug,
    displayName: body.display_name,
    kind: body.kind,
    issuer: body.issuer,
    clientId: body.client_id,
    clientSecret: body.client_secret,
    privateKey: body.private_key,
    authMethod: body.auth_method,
    scope: body.scope,
    authorizationEndpoint: body.authorization_endpoint,
    tokenEndpoint: body.token_endpoint,
    userinfoEndpoint: body.userinfo_endpoint,
    emailsEndpoint: body.emails_endpoint,
    claimMapping: body.claim_mapping as ClaimMapping | undefined,
    jit: body.jit,
    domains: body.domains,
    enabled: body.enabled,
    upstreamLogout: body.upstream_logout,
  }
}

function problem (err: unknown): never {
  if (err instanceof ProviderError) throw new OAuthError('invalid_request', err.status, err.message)
  throw err
}

export default async function identityProviderRoutes (app: FastifyInstance): Promise<void> {
  const idps = app.identityProviders
  const notFoundResponse = { 404: errorResponses[400] }

  app.get('/identity-providers', {
    schema: { tags, security, summary: 'List upstream identity providers', response: { 200: IdentityProviderList, ...errorResponses } },
  }, async () => ({ items: (await idps.list()).map((p) => idps.view(p)) }))

  app.post<{ Body: CreateInput }>('/identity-providers', {
    schema: { tags, security, summary: 'Add an upstream identity provider (OpenID Connect by discovery, or plain OAuth 2)', body: CreateIdentityProviderBody, response: { 201: IdentityProvider, 409: errorResponses[400], ...errorResponses } },
  }, async (request, reply) => {
    const created = await idps.create(input(request.body), { actor: request.admin!.sub, ip: request.ip }).catch(problem)
    return reply.code(201).send(idps.view(created))
  })

  app.get<{ Params: { id: string } }>('/identity-providers/:id', {
    schema: { tags, security, summary: 'Get an upstream identity provider (by id or name)', params: IdentityProviderParams, response: { 200: IdentityProvider, ...notFoundResponse, ...errorResponses } },
  }, async (request) => {
    const provider = await idps.find(request.params.id)
    if (!provider) throw new OAuthError('invalid_request', 404, 'no such identity provider')
    return idps.view(provider)
  })

  app.patch<{ Params: { id: string }, Body: UpdateInput }>('/identity-providers/:id', {
    schema: { tags, security, summary: 'Change an upstream identity provider; a new client_secret or private_key replaces the stored one', params: IdentityProviderParams, body: UpdateIdentityProviderBody, response: { 200: IdentityProvider, ...notFoundResponse, ...errorResponses } },
  }, async (request) => {
    const updated = await idps.update(request.params.id, input(request.body), { actor: request.admin!.sub, ip: request.ip }).catch(problem)
    return idps.view(updated)
  })

  app.delete<{ Params: { id: string } }>('/identity-providers/:id', {
    schema: { tags, security, summary: 'Delete an upstream identity provider and every link to it (linked users keep their accounts)', params: IdentityProviderParams, response: { 200: IdentityProviderDeleted, ...notFoundResponse, ...errorResponses } },
  }, async (request) => {
    const { provider, links } = await idps.delete(request.params.id, { actor: request.admin!.sub, ip: request.ip }).catch(problem)
    return { id: provider.id, slug: provider.slug, links_removed: links }
  })
}
