/**
 * Admin API: clients. Create (the secret is returned once), read, list, update, delete, and
 * secret rotation (the new secret is returned once; the old one stops working at once on this
 * instance and within CLIENT_CACHE_TTL on the others).
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { grantsByType } from '../../grants/index.js'
import { generateClientId, generateClientSecret, hashClientSecret } from '../../domain/client_auth.js'
import { clientIdProblem, normalizeClientSettings, usesSecret, type ClientSettings } from '../../domain/clients.js'
import { InvalidRequest } from '../../errors.js'
import type { ClientRecord } from '../../storage/types.js'
import {
  ClientIdParams, ClientPage, ClientSecret, ClientWithSecret, Client, CreateClientBody, UpdateClientBody,
  errorResponses, type CreateClientBody as CreateClientInput, type UpdateClientBody as UpdateClientInput,
  ClientListQuery, RevokeClientBody, RevokedClient, PurgeClientsBody, PurgedClients,
  type ClientListQuery as ClientListInput, type RevokeClientBody as RevokeClientInput, type PurgeClientsBody as PurgeClientsInput,
} from '../../schemas/admin.js'
import { PURGEABLE_ORIGINS, purgeUnusedClients, revokeClient } from '../../domain/client_lifecycle.js'
import { clientView, conflict, notFound, paged, scopeChange } from './views.js'

const tags = ['clients']
const security = [{ bearerAuth: [] }]
const knownGrants = () => [...grantsByType.keys()]

export default async function clientRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: ClientListInput }>('/clients', {
    schema: { tags, security, summary: 'List clients, optionally by origin (admin, dcr, cimd) or `q` (client_id or name), with their last use', querystring: ClientListQuery, response: { 200: ClientPage, ...errorResponses } },
  }, async (request) => {
    const { limit, cursor, origin, q } = request.query
    return paged(await app.clientStore.listByOrigin(origin ? [origin] : [], { limit, cursor, query: q }), limit, (c) => c.id, clientView)
  })

  app.post<{ Body: RevokeClientInput }>('/clients/revoke', {
    schema: { tags, security, summary: 'Revoke a client (any origin; a metadata document client stays refused) and its refresh tokens', body: RevokeClientBody, response: { 200: RevokedClient, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const id = request.body.client_id
    const result = await revokeClient({ clients: app.clientStore, refreshTokens: app.refreshTokens }, id, new Date())
    if (!result) throw notFound('client')
    app.clientCache.forget(id)
    await app.audit.record({ type: 'client_revoked', actor: request.admin!.sub, subject: id, clientId: id, ip: request.ip, detail: { origin: result.client.origin, refresh_families_revoked: result.refreshFamiliesRevoked } })
    return { client_id: id, revoked_at: result.client.revokedAt!.toISOString(), refresh_families_revoked: result.refreshFamiliesRevoked }
  })

  app.post<{ Body: PurgeClientsInput }>('/clients/purge', {
    schema: { tags, security, summary: 'Delete self-registered clients (dcr, cimd) unused for N days, with their tokens and consents', body: PurgeClientsBody, response: { 200: PurgedClients, ...errorResponses } },
  }, async (request) => {
    const { unused_days: days, origins = [...PURGEABLE_ORIGINS] } = request.body
    const purged = await purgeUnusedClients({ clients: app.clientStore, refreshTokens: app.refreshTokens }, days, origins, new Date())
    for (const id of purged) app.clientCache.forget(id)
    await app.audit.record({ type: 'clients_purged', actor: request.admin!.sub, ip: request.ip, detail: { unused_days: days, origins, count: purged.length, client_ids: purged.slice(0, 100) } })
    return { purged }
  })

  app.post<{ Body: CreateClientInput }>('/clients', {
    schema: { tags, security, summary: 'Register a client; a confidential client\'s secret is returned once', body: CreateClientBody, response: { 201: ClientWithSecret, 409: errorResponses[400], ...errorResponses } },
  }, async (request, reply) => {
    const body = request.body
    const settings = normalizeClientSettings({
      name: body.name,
      public: body.public ?? false,
      firstParty: body.first_party ?? false,
      grantTypes: body.grant_types ?? [],
      redirectUris: body.redirect_uris ?? [],
      postLogoutRedirectUris: body.post_logout_redirect_uris ?? [],
      backchannelLogoutUri: body.backchannel_logout_uri ?? null,
      scopes: body.scopes ?? [],
      audiences: body.audiences ?? [],
      exchangeAudiences: body.exchange_audiences ?? [],
      requirePkce: body.require_pkce ?? true,
      ...keySettings(body),
      dpopBoundAccessTokens: body.dpop_bound_access_tokens ?? false,
      refreshTokenRotation: body.refresh_token_rotation ?? null,
    }, knownGrants())
    const id = body.client_id ?? generateClientId()
    const idProblem = clientIdProblem(id)
    if (idProblem) throw new InvalidRequest(idProblem)
    if (await app.clientStore.find(id)) throw conflict(`client ${id} already exists`)
    const secret = usesSecret(settings) ? generateClientSecret() : null
    const client: ClientRecord = { id, secretHash: secret ? hashClientSecret(secret) : null, ...settings, requireMfa: body.require_mfa ?? false }
    await app.clientStore.create(client)
    await app.audit.record({ type: 'client_created', actor: request.admin!.sub, subject: id, clientId: id, ip: request.ip, detail: { grant_types: settings.grantTypes, scopes: settings.scopes } })
    return reply.code(201).send({ ...clientView(client), ...(secret ? { client_secret: secret } : {}) })
  })

  app.get<{ Params: { id: string } }>('/clients/:id', {
    schema: { tags, security, summary: 'Get a client', params: ClientIdParams, response: { 200: Client, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const client = await app.clientStore.find(request.params.id)
    if (!client) throw notFound('client')
    return clientView(client)
  })

  app.patch<{ Params: { id: string }, Body: UpdateClientInput }>('/clients/:id', {
    schema: { tags, security, summary: 'Change a client\'s settings (not whether it is public)', params: ClientIdParams, body: UpdateClientBody, response: { 200: Client, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    const current = await app.clientStore.find(id)
    if (!current) throw notFound('client')
    const body = request.body
    const settings = normalizeClientSettings({
      name: body.name ?? current.name,
      public: current.public,
      firstParty: body.first_party ?? current.firstParty,
      grantTypes: body.grant_types ?? current.grantTypes,
      redirectUris: body.redirect_uris ?? current.redirectUris,
      postLogoutRedirectUris: body.post_logout_redirect_uris ?? current.postLogoutRedirectUris,
      backchannelLogoutUri: body.backchannel_logout_uri === undefined ? current.backchannelLogoutUri : body.backchannel_logout_uri,
      scopes: body.scopes ?? current.scopes,
      audiences: body.audiences ?? current.audiences,
      exchangeAudiences: body.exchange_audiences ?? current.exchangeAudiences ?? [],
      requirePkce: body.require_pkce ?? current.requirePkce,
      ...keySettings(body, current),
      dpopBoundAccessTokens: body.dpop_bound_access_tokens ?? current.dpopBoundAccessTokens ?? false,
      refreshTokenRotation: body.refresh_token_rotation === undefined ? current.refreshTokenRotation ?? null : body.refresh_token_rotation,
    }, knownGrants())
    const disabled = body.disabled ?? current.disabled ?? false
    // Moving to private_key_jwt throws the secret away (a new one: POST /clients/:id/secret after moving back).
    const updated = await app.clientStore.update(id, { ...settings, disabled, requireMfa: body.require_mfa ?? current.requireMfa ?? false, ...(usesSecret(settings) ? {} : { secretHash: null }) })
    if (!updated) throw notFound('client')
    app.clientCache.forget(id)
    app.clientKeys.forget(current)
    // Taking a privilege away reaches refresh tokens: disabling revokes every family of the
    // client, removing scopes the families that hold one (each refresh also re-checks both).
    const now = new Date()
    const removed = current.scopes.filter((s) => !settings.scopes.includes(s))
    const revoked = disabled && !current.disabled
      ? await app.refreshTokens.revokeClientFamilies(id, now)
      : removed.length ? await app.refreshTokens.revokeFamilies({ clientId: id, scopes: removed }, now) : 0
    await app.audit.record({ type: 'client_updated', actor: request.admin!.sub, subject: id, clientId: id, ip: request.ip, detail: { fields: Object.keys(body), disabled, refresh_families_revoked: revoked, ...scopeChange(current.scopes, updated.scopes) } })
    return clientView(updated)
  })

  app.delete<{ Params: { id: string } }>('/clients/:id', {
    schema: { tags, security, summary: 'Delete a client and revoke its refresh tokens', params: ClientIdParams, response: { 204: Type.Null(), 404: errorResponses[400], ...errorResponses } },
  }, async (request, reply) => {
    const { id } = request.params
    if (!await app.clientStore.delete(id)) throw notFound('client')
    app.clientCache.forget(id)
    const revoked = await app.refreshTokens.revokeClientFamilies(id, new Date())
    await app.audit.record({ type: 'client_deleted', actor: request.admin!.sub, subject: id, clientId: id, ip: request.ip, detail: { refresh_families_revoked: revoked } })
    return reply.code(204).send()
  })

  app.post<{ Params: { id: string } }>('/clients/:id/secret', {
    schema: { tags, security, summary: 'Rotate a confidential client\'s secret; the new one is returned once', params: ClientIdParams, response: { 200: ClientSecret, 404: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const { id } = request.params
    const client = await app.clientStore.find(id)
    if (!client) throw notFound('client')
    if (client.public) throw new InvalidRequest('a public client has no secret')
    if (!usesSecret(client)) throw new InvalidRequest('this client authenticates with private_key_jwt; set token_endpoint_auth_method to client_secret_basic first')
    const secret = generateClientSecret()
    await app.clientStore.update(id, { secretHash: hashClientSecret(secret) })
    app.clientCache.forget(id)
    await app.audit.record({ type: 'client_secret_rotated', actor: request.admin!.sub, subject: id, clientId: id, ip: request.ip })
    return { client_id: id, client_secret: secret }
  })
}

/** The private_key_jwt, keys, PAR and profile fields of a create or update body, over `current`. */
function keySettings (body: Partial<Pick<CreateClientInput, 'token_endpoint_auth_method' | 'jwks' | 'jwks_uri' | 'token_endpoint_auth_signing_alg' | 'request_object_signing_alg' | 'require_pushed_authorization_requests' | 'profile'>>, current?: ClientRecord): Partial<ClientSettings> {
  const method = body.token_endpoint_auth_method === undefined ? current?.tokenEndpointAuthMethod ?? null : body.token_endpoint_auth_method === 'private_key_jwt' ? 'private_key_jwt' : null
  // Setting one of jwks and jwks_uri replaces the other.
  const jwksGiven = body.jwks !== undefined || body.jwks_uri !== undefined
  return {
    tokenEndpointAuthMethod: method,
    jwks: jwksGiven ? body.jwks ?? null : current?.jwks ?? null,
    jwksUri: jwksGiven ? body.jwks_uri ?? null : current?.jwksUri ?? null,
    // Moving off private_key_jwt drops the assertion algorithm with it unless the body names one.
    tokenEndpointAuthSigningAlg: body.token_endpoint_auth_signing_alg === undefined ? (method === 'private_key_jwt' ? current?.tokenEndpointAuthSigningAlg ?? null : null) : body.token_endpoint_auth_signing_alg,
    requestObjectSigningAlg: body.request_object_signing_alg === undefined ? current?.requestObjectSigningAlg ?? null : body.request_object_signing_alg,
    requirePushedAuthorizationRequests: body.require_pushed_authorization_requests ?? current?.requirePushedAuthorizationRequests ?? false,
    profile: body.profile === undefined ? current?.profile ?? null : body.profile,
  }
}
