/**
 * RFC 6749 §4.3 Resource Owner Password Credentials Grant, for first-party clients only
 * (RFC 9700 §2.4 deprecates it for everyone else).
 *
 * @module
 */
import { InvalidGrant, InvalidRequest, TemporarilyUnavailable, UnauthorizedClient } from '../errors.js'
import { allowedForUser, parseScope, resolveAudience, resolveScope } from '../domain/scopes.js'
import { ACR_SINGLE_FACTOR } from '../domain/authentication_methods.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant } from './types.js'

export const password: Grant = {
  grantType: 'password',
  parameters: ['username', 'password', 'scope'],
  allowPublicClients: true,
  async handler ({ client, params, resources, ip, dpopJkt }, services) {
    if (!client.firstParty) throw new UnauthorizedClient('the password grant is only available to first-party clients')
    const { username, password: secret } = params
    if (!username) throw new InvalidRequest('username is required')
    if (secret === undefined) throw new InvalidRequest('password is required')
    // Back-off before any password check; unknown usernames are throttled like known ones.
    const decision = await services.throttle.check(username, ip)
    if (!decision.allowed) {
      await services.audit.record({ type: 'login_throttled', clientId: client.id, ip, detail: { retry_after: decision.retryAfter } })
      throw new TemporarilyUnavailable(`too many failed login attempts; retry after ${decision.retryAfter} seconds`,
        { headers: { 'retry-after': String(decision.retryAfter) } })
    }
    const user = await services.users.findByUsername(username)
    // Always run argon2, also for unknown users, so timing does not reveal which usernames exist.
    const ok = await services.passwords.verify(user?.passwordHash ?? null, secret)
    // A self-registered account signs in once its address is verified (SIGNUP=open).
    if (!user || !ok || user.disabled || user.verificationPending) {
      await services.throttle.failed(username, ip)
      // The subject is the user id when the user exists: usernames typed by mistake (or
      // passwords typed into the username field) are not written to the audit trail.
      await services.audit.record({
        type: 'login_failed', subject: user?.id ?? null, clientId: client.id, ip,
        detail: { reason: !user ? 'unknown_user' : !ok ? 'bad_password' : user.disabled ? 'disabled' : 'email_unverified' },
      })
      throw new InvalidGrant('invalid username or password')
    }
    const scope = resolveScope(parseScope(params.scope), allowedForUser(client.scopes, user.scopes))
    const audience = resolveAudience(resources, client.audiences, services.issuer)
    // Independent steps run side by side: the login is already decided, and each still must succeed.
    const [tokens] = await Promise.all([
      issueTokenPair({ client, sub: user.id, userId: user.id, scope, audience, refresh: client.grantTypes.includes('refresh_token'), authTime: Math.floor(Date.now() / 1000), acr: ACR_SINGLE_FACTOR, amr: ['pwd'], jkt: dpopJkt }, services),
      services.throttle.succeeded(username, ip),
      services.audit.record({ type: 'login_succeeded', actor: user.id, subject: user.id, clientId: client.id, ip }),
      services.passwords.needsRehash(user.passwordHash)
        ? services.passwords.hash(secret).then((hash) => services.users.updatePasswordHash(user.id, hash))
        : undefined,
    ])
    return tokens
  },
}
