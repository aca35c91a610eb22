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
import { prePublicationSeconds, retiringGraceSeconds } from '../../domain/keys.js'
import type { StoredKey } from '../../storage/types.js'
import type { Policy } from '../../config/defaults.js'

/**
 * The rotation rule as dates, so a console can show when a rotation will be accepted: the next
 * key must have been published for JWKS_MAX_AGE + KEY_REFRESH_INTERVAL (docs/key-lifecycle.md).
 */
export function rotationRule (keys: readonly StoredKey[], policy: Policy, now: Date) {
  const prePublication = prePublicationSeconds(policy)
  const next = keys.find((k) => k.status === 'next')
  const active = keys.find((k) => k.status === 'active')
  const rotatableAt = next ? new Date(next.createdAt.getTime() + prePublication * 1000) : null
  const intervalServedAt = active ? new Date((active.activatedAt ?? active.createdAt).getTime() + policy.keyRotationInterval * 1000) : null
  const scheduled = rotatableAt && intervalServedAt ? new Date(Math.max(rotatableAt.getTime(), intervalServedAt.getTime())) : null
  return {
    pre_publication_seconds: prePublication,
    rotation_interval_seconds: policy.keyRotationInterval,
    retiring_grace_seconds: retiringGraceSeconds(policy),
    next_rotatable_at: rotatableAt?.toISOString() ?? null,
    scheduled_rotation_at: scheduled?.toISOString() ?? null,
    now: now.toISOString(),
  }
}

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
    schema: { tags, security, summary: 'List signing keys, with the rotation rule as dates', response: { 200: KeyList, ...errorResponses } },
  }, async () => {
    const keys = await app.keyStore.all()
    return { keys: keys.map(keyView), rotation: rotationRule(keys, app.config.policy, new Date()) }
  })

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
