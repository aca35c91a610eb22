/**
 * RFC 6749 §4.3 Resource Owner Password Credentials Grant, for first-party clients only
 * (RFC 9700 §2.4 deprecates it for everyone else).
 *
 * @module
 */
import { InvalidGrant, InvalidRequest, UnauthorizedClient } from '../errors.js'
import { allowedForUser, parseScope, resolveAudience, resolveScope } from '../domain/scopes.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant } from './types.js'

export const password: Grant = {
  grantType: 'password',
  parameters: ['username', 'password', 'scope'],
  allowPublicClients: true,
  async handler ({ client, params, resources }, services) {
    if (!client.firstParty) throw new UnauthorizedClient('the password grant is only available to first-party clients')
    const { username, password: secret } = params
    if (!username) throw new InvalidRequest('username is required')
    if (secret === undefined) throw new InvalidRequest('password is required')
    const user = await services.users.findByUsername(username)
    // Always run argon2, also for unknown users, so timing does not reveal which usernames exist.
    const ok = await services.passwords.verify(user?.passwordHash ?? null, secret)
    if (!user || !ok || user.disabled) {
      services.log.info({ event: 'login_failed', client_id: client.id }, 'password grant: invalid credentials')
      throw new InvalidGrant('invalid username or password')
    }
    if (services.passwords.needsRehash(user.passwordHash)) {
      await services.users.updatePasswordHash(user.id, await services.passwords.hash(secret))
    }
    const scope = resolveScope(parseScope(params.scope), allowedForUser(client.scopes, user.scopes))
    const audience = resolveAudience(resources, client.audiences, services.issuer)
    return issueTokenPair({
      client, sub: user.id, userId: user.id, scope, audience, refresh: client.grantTypes.includes('refresh_token'),
    }, services)
  },
}
