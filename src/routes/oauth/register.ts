/**
 * Dynamic Client Registration (RFC 7591) at /register, and client management (RFC 7592) at
 * /register/:client_id with the registration access token issued at registration.
 *
 * Closed by default (REGISTRATION=token): registering needs an initial access token (RFC 7591
 * §3, `stamp registration token create`), whose uses are counted atomically. REGISTRATION=open
 * lets anyone register; REGISTRATION=off removes the endpoints. What a client may register is
 * decided by the registration policy (domain/registration_policy.ts); registered clients are
 * third-party. Tokens and secrets are stored as SHA-256 only and compared in constant time.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidClientMetadata, InvalidRequest, InvalidToken } from '../../errors.js'
import { grantsByType } from '../../grants/index.js'
import { generateClientSecret, hashClientSecret } from '../../domain/client_auth.js'
import { PRIVATE_KEY_JWT } from '../../domain/client_assertion.js'
import { settingsFromRegistration, type RegistrationRequest } from '../../domain/registration_policy.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { ClientRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'

/** RFC 7592 §2.2: fields a client must not send in an update (the server owns them). */
const SERVER_OWNED = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at']

function bearer (request: FastifyRequest): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.authorization ?? '')
  return match ? match[1] : null
}

function challenge (error?: string) {
  return { 'WWW-Authenticate': error ? `Bearer realm="stamp", error="${error}"` : 'Bearer realm="stamp"' }
}

function sameHash (presented: string, stored: string | null | undefined): boolean {
  if (!stored) return false
  const a = Buffer.from(hashClientSecret(presented), 'hex')
  const b = Buffer.from(stored, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}

function metadataBody (request: FastifyRequest): RegistrationRequest {
  const body = request.body
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.getPrototypeOf(body) === null) {
    // Our form parser yields null-prototype objects: RFC 7591 §3.1 registration is JSON.
    throw new InvalidClientMetadata('the registration request must be a JSON object (Content-Type: application/json)')
  }
  return body as RegistrationRequest
}

/** RFC 7591 §3.2.1 / RFC 7592 §3: the client's registered metadata. */
function clientInformation (client: ClientRecord, issuer: string) {
  const metadata = client.metadata ?? {}
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor((client.createdAt ?? new Date()).getTime() / 1000),
    ...(usesSecret(client) ? { client_secret_expires_at: 0 } : {}),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    scope: client.scopes.join(' '),
    ...metadata,
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.tokenEndpointAuthSigningAlg ? { token_endpoint_auth_signing_alg: client.tokenEndpointAuthSigningAlg } : {}),
    ...(client.requestObjectSigningAlg ? { request_object_signing_alg: client.requestObjectSigningAlg } : {}),
    registration_client_uri: `${issuer}${ENDPOINTS.registration}/${encodeURIComponent(client.id)}`,
  }
}

function usesSecret (settings: Pick<ClientRecord, 'public' | 'tokenEndpointAuthMethod'>): boolean {
  return !settings.public && settings.tokenEndpointAuthMethod !== PRIVATE_KEY_JWT
}

function noStore (reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}

export default async function registerRoute (app: FastifyInstance) {
  const mode = app.config.registration
  if (mode === 'off') return
  const policy = app.config.policy.registration
  const knownGrants = [...grantsByType.keys()]
  const rateLimit = app.config.policy.rateLimit.enabled
    ? { max: policy.rateLimit, timeWindow: app.config.policy.rateLimit.window * 1000, groupId: 'registration' }
    : false

  app.post(ENDPOINTS.registration, { config: { rateLimit } }, async (request, reply) => {
    let initialToken: string | null = null
    if (mode === 'token') {
      const presented = bearer(request)
      if (!presented) throw new InvalidToken('registration requires an initial access token', { headers: challenge() })
      initialToken = await app.registrationTokens.use(hashClientSecret(presented), new Date())
      if (!initialToken) {
        await app.audit.record({ type: 'registration_refused', ip: request.ip, detail: { reason: 'initial access token invalid, expired or used up' } })
        throw new InvalidToken('the initial access token is invalid, expired or used up', { headers: challenge('invalid_token') })
      }
    }
    const { client: settings, authMethod } = settingsFromRegistration(metadataBody(request), policy, knownGrants)
    const id = randomBytes(16).toString('base64url')
    // private_key_jwt clients authenticate with their keys: no secret to hand out (RFC 7591 §3.2.1).
    const secret = usesSecret(settings) ? generateClientSecret() : null
    const registrationToken = randomBytes(32).toString('base64url')
    const client: ClientRecord = {
      id,
      secretHash: secret ? hashClientSecret(secret) : null,
      ...settings,
      registrationTokenHash: hashClientSecret(registrationToken),
      createdAt: new Date(),
    }
    await app.clientStore.create(client)
    await app.audit.record({
      type: 'client_registered', actor: initialToken ? `registration_token:${initialToken}` : 'anonymous', subject: id, clientId: id, ip: request.ip,
      detail: { origin: 'dcr', token_endpoint_auth_method: authMethod, grant_types: settings.grantTypes, redirect_uris: settings.redirectUris, scopes: settings.scopes },
    })
    return noStore(reply).code(201).send({
      ...clientInformation(client, publicIssuer(request)),
      ...(secret ? { client_secret: secret } : {}),
      registration_access_token: registrationToken,
    })
  })

  /** RFC 7592 §2: the registration access token authorizes access to its own client only. */
  async function registered (request: FastifyRequest<{ Params: { clientId: string } }>): Promise<ClientRecord> {
    const presented = bearer(request)
    if (!presented) throw new InvalidToken('a registration access token is required', { headers: challenge() })
    const client = await app.clientStore.find(request.params.clientId)
    // RFC 7592 §3: an unknown client is 401, like a wrong token, so ids cannot be probed.
    if (!client || client.origin !== 'dcr' || client.revokedAt || !sameHash(presented, client.registrationTokenHash)) {
      throw new InvalidToken('the registration access token is not valid for this client', { headers: challenge('invalid_token') })
    }
    return client
  }

  const path = `${ENDPOINTS.registration}/:clientId`
  app.get<{ Params: { clientId: string } }>(path, { config: { rateLimit } }, async (request, reply) => {
    const client = await registered(request)
    return noStore(reply).send(clientInformation(client, publicIssuer(request)))
  })

  // RFC 7592 §2.2: the request replaces the client's metadata as a whole.
  app.put<{ Params: { clientId: string } }>(path, { config: { rateLimit } }, async (request, reply) => {
    const current = await registered(request)
    const body = metadataBody(request)
    if (body.client_id !== current.id) throw new InvalidRequest('client_id in the body must be the client\'s id')
    const owned = SERVER_OWNED.filter((field) => field in body)
    if (owned.length) throw new InvalidRequest(`these fields cannot be sent: ${owned.join(', ')}`)
    if (body.client_secret !== undefined && (typeof body.client_secret !== 'string' || !sameHash(body.client_secret, current.secretHash))) {
      throw new InvalidRequest('client_secret does not match the client\'s secret')
    }
    const { client_id: _id, client_secret: _secret, ...metadata } = body
    const { client: settings, authMethod } = settingsFromRegistration(metadata, policy, knownGrants)
    // Moving to a secret method gets a new secret (returned once); public or private_key_jwt drops it.
    const newSecret = usesSecret(settings) && !current.secretHash ? generateClientSecret() : null
    const secretHash = !usesSecret(settings) ? null : newSecret ? hashClientSecret(newSecret) : current.secretHash
    const { origin: _origin, ...patch } = settings
    const updated = await app.clientStore.update(current.id, { ...patch, secretHash })
    if (!updated) throw new InvalidToken('the registration access token is not valid for this client', { headers: challenge('invalid_token') })
    app.clientCache.forget(current.id)
    app.clientKeys.forget(current)
    await app.audit.record({ type: 'client_updated', actor: current.id, subject: current.id, clientId: current.id, ip: request.ip, detail: { origin: 'dcr', token_endpoint_auth_method: authMethod, redirect_uris: settings.redirectUris } })
    return noStore(reply).send({ ...clientInformation(updated, publicIssuer(request)), ...(newSecret ? { client_secret: newSecret } : {}) })
  })

  app.delete<{ Params: { clientId: string } }>(path, { config: { rateLimit } }, async (request, reply) => {
    const client = await registered(request)
    await app.clientStore.delete(client.id)
    app.clientCache.forget(client.id)
    app.clientKeys.forget(client)
    const revoked = await app.refreshTokens.revokeClientFamilies(client.id, new Date())
    await app.audit.record({ type: 'client_deleted', actor: client.id, subject: client.id, clientId: client.id, ip: request.ip, detail: { origin: 'dcr', refresh_families_revoked: revoked } })
    return noStore(reply).code(204).send()
  })
}
