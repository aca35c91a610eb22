/**
 * Admin API: signing keys. List (every key, with its lifecycle timestamps; never key material),
 * rotate (refused while the next key is younger than JWKS_MAX_AGE unless `force`), and emergency
 * revoke. Both changes go through the same Keyring operations as `stamp keys`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { KeyLifecycleError } from '../../domain/keyring.js'
import { OAuthError } from '../../errors.js'
import { KeyList, KidParams, RevokeKeyResult, RotateKeysBody, RotateResult, errorResponses } from '../../schemas/admin.js'
import { keyView } from './views.js'

const tags = ['keys']
const security = [{ bearerAuth: [] }]

/** A refused lifecycle step is a conflict with the key set's current state. */
async function lifecycle<T> (step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (err) {
    if (err instanceof KeyLifecycleError) throw new OAuthError('invalid_request', 409, err.message)
    throw err
  }
}

export default async function keyRoutes (app: FastifyInstance): Promise<void> {
  app.get('/keys', {
    schema: { tags, security, summary: 'List signing keys', response: { 200: KeyList, ...errorResponses } },
  }, async () => ({ keys: (await app.keyStore.all()).map(keyView) }))

  app.post<{ Body: { force?: boolean } | undefined }>('/keys/rotate', {
    schema: { tags, security, summary: 'Rotate: next → active, active → retiring, new next', body: RotateKeysBody, response: { 200: RotateResult, 409: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const force = request.body?.force ?? false
    const result = await lifecycle(() => app.keyring.rotate({ force }))
    await app.audit.record({ type: 'key_rotated', actor: request.admin!.sub, subject: result.active, ip: request.ip, detail: { ...result, force, reason: 'admin' } })
    return result
  })

  app.post<{ Params: { kid: string } }>('/keys/:kid/revoke', {
    schema: { tags, security, summary: 'Emergency revoke: drop the key from the JWKS and revoke the refresh tokens it signed', params: KidParams, response: { 200: RevokeKeyResult, 409: errorResponses[400], ...errorResponses } },
  }, async (request) => {
    const result = await lifecycle(() => app.keyring.revoke(request.params.kid))
    await app.audit.record({ type: 'key_revoked', actor: request.admin!.sub, subject: result.revoked, ip: request.ip, detail: { refresh_families_revoked: result.refreshFamiliesRevoked, active: result.active } })
    return { revoked: result.revoked, refresh_families_revoked: result.refreshFamiliesRevoked, active: result.active }
  })
}
