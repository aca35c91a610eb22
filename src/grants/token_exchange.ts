/**
 * RFC 8693 OAuth 2.0 Token Exchange (`urn:ietf:params:oauth:grant-type:token-exchange`), for a
 * service calling another service on a user's behalf.
 *
 * - `subject_token` must be one of Stamp's access tokens (`subject_token_type`
 *   `urn:ietf:params:oauth:token-type:access_token`), verified as /userinfo does: signature by a
 *   published key, issuer, expiry, `typ` at+jwt, its client still enabled, its user still enabled
 *   and its session (`sid`) not ended. An optional `actor_token` is verified the same way and
 *   becomes the `act` claim (§4.1); when the subject token already carries `act`, it is nested
 *   inside, so the chain of delegation stays visible.
 * - Which clients may exchange, and for which targets, is an explicit per-client allow-list
 *   (`exchangeAudiences`): every `audience` and `resource` must be on it (§2.2.2 invalid_target),
 *   and a client with an empty list may not exchange at all (unauthorized_client). Without a
 *   target, the token is for the whole list.
 * - `scope` only narrows: the result is within the subject token's scope, the client's scopes
 *   and (for a user) what the user may grant; anything beyond is invalid_scope.
 * - §2.2.1: a refresh token "MAY" be issued; Stamp issues none. An exchanged token is derived
 *   from another short-lived token and lives no longer than it (nor than the actor token), so a
 *   refresh token would outlive what it was derived from.
 * - §2.2.2: "If ... either the subject_token or actor_token are invalid for any reason, or are
 *   unacceptable based on policy, the invalid_request error code MUST be used."
 *
 * Every exchange, and every refusal of a target or client, is audited.
 *
 * @module
 */
import type { JWTPayload } from 'jose'
import { InvalidRequest, InvalidScope, InvalidTarget, OAuthError, UnauthorizedClient } from '../errors.js'
import { ACCESS_TOKEN_TYP } from '../domain/tokens.js'
import { allowedForUser, parseScope } from '../domain/scopes.js'
import type { Grant, GrantRequest, GrantServices } from './types.js'

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
/** RFC 8693 §3 */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

interface VerifiedToken {
  claims: JWTPayload & { sub: string, client_id: string, scope: string }
  /** For a user's token: the user's own scope allow-list. */
  userScopes?: string[]
}

export const tokenExchange: Grant = {
  grantType: TOKEN_EXCHANGE_GRANT,
  parameters: ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'scope'],
  // Service-to-service: the exchanging client must prove who it is.
  allowPublicClients: false,
  async handler (request, services) {
    const { client, params } = request
    const allowList = client.exchangeAudiences ?? []
    if (!allowList.length) {
      await refused(request, services, 'no_exchange_audiences')
      throw new UnauthorizedClient('this client may not exchange tokens: it has no exchange audiences')
    }
    if (!params.subject_token) throw new InvalidRequest('subject_token is required')
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`)
    if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`)
    }
    // §2.1: actor_token_type "is REQUIRED when the actor_token parameter is present ... and MUST NOT be included otherwise".
    if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
      throw new InvalidRequest('actor_token and actor_token_type go together')
    }
    if (params.actor_token_type !== undefined && params.actor_token_type !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN_TYPE}`)

    const targets = [...(params.audience ? [params.audience] : []), ...(request.resources ?? [])]
    if (targets.some((t) => t.includes('#'))) throw new InvalidRequest('resource must not contain a fragment')
    const refusedTargets = targets.filter((t) => !allowList.includes(t))
    if (refusedTargets.length) {
      await refused(request, services, 'audience_not_allowed', { audience: refusedTargets })
      throw new InvalidTarget(`this client may not exchange tokens for: ${refusedTargets.join(' ')}`)
    }
    const audience = targets.length ? [...new Set(targets)] : [...allowList]

    const subject = await verifyToken(params.subject_token, 'subject_token', services)
    const actor = params.actor_token ? await verifyToken(params.actor_token, 'actor_token', services) : undefined

    // §1.1 / RFC 6749 §3.3: the exchanged token never carries more than the subject token did.
    const subjectScopes = subject.claims.scope.split(' ').filter(Boolean)
    const grantable = subject.userScopes ? allowedForUser(client.scopes, subject.userScopes) : client.scopes
    const allowed = subjectScopes.filter((s) => grantable.includes(s))
    const requested = parseScope(params.scope)
    if (requested) {
      const widened = requested.filter((s) => !allowed.includes(s))
      if (widened.length) throw new InvalidScope(`scope not allowed (not in the subject token, or not for this client): ${widened.join(' ')}`)
    }
    const scopes = requested ?? allowed
    if (!scopes.length && subjectScopes.length) throw new InvalidScope('none of the subject token\'s scopes is allowed for this client')
    const scope = scopes.join(' ')

    const act = actor
      ? { sub: actor.claims.sub, client_id: actor.claims.client_id, ...(subject.claims.act ? { act: subject.claims.act } : {}) }
      : subject.claims.act as Record<string, unknown> | undefined
    const notAfter = Math.min(subject.claims.exp!, actor?.claims.exp ?? Infinity)
    const now = Date.now()
    const accessToken = await services.minter.accessToken({
      sub: subject.claims.sub,
      clientId: client.id,
      scope,
      audience,
      authTime: typeof subject.claims.auth_time === 'number' ? subject.claims.auth_time : undefined,
      sid: typeof subject.claims.sid === 'string' ? subject.claims.sid : undefined,
      act,
      notAfter,
    }, now)
    await services.audit.record({
      type: 'token_exchanged',
      actor: actor?.claims.sub ?? client.id,
      subject: subject.claims.sub,
      clientId: client.id,
      ip: request.ip,
      detail: {
        audience, scope, subject_client_id: subject.claims.client_id,
        ...(actor ? { actor_sub: actor.claims.sub, actor_client_id: actor.claims.client_id } : {}),
        ...(act ? { act_chain: actorChain(act) } : {}),
      },
    })
    return {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: Math.min(services.minter.accessTokenTTL, notAfter - Math.floor(now / 1000)),
      scope,
    }
  },
}

/** The subjects of a (nested) act claim, current actor first. */
function actorChain (act: Record<string, unknown>): string[] {
  const chain: string[] = []
  let current: unknown = act
  while (current && typeof current === 'object' && chain.length < 10) {
    const { sub, act: inner } = current as { sub?: unknown, act?: unknown }
    chain.push(String(sub))
    current = inner
  }
  return chain
}

/**
 * A Stamp access token whose holder is still entitled to it (the checks /userinfo makes): its
 * client enabled, and for a user's token the user enabled and the session not ended.
 */
async function verifyToken (token: string, name: string, services: GrantServices): Promise<VerifiedToken> {
  const claims = await services.minter.verifyOwn(token, ACCESS_TOKEN_TYP)
  if (!claims || typeof claims.sub !== 'string' || typeof claims.client_id !== 'string' || typeof claims.exp !== 'number') {
    throw new InvalidRequest(`${name} is invalid or expired`)
  }
  const scope = typeof claims.scope === 'string' ? claims.scope : ''
  let issuedTo
  try {
    issuedTo = await services.findClient(claims.client_id)
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err
  }
  if (!issuedTo) throw new InvalidRequest(`${name} was issued to a client that is no longer active`)
  const verified = { ...claims, sub: claims.sub, client_id: claims.client_id, scope }
  // A client_credentials token speaks for its client (sub = client_id, RFC 9068 §2.2).
  if (claims.sub === claims.client_id) return { claims: verified }
  const user = await services.users.findById(claims.sub)
  if (!user || user.disabled) throw new InvalidRequest(`the user of the ${name} is no longer active`)
  if (claims.sid !== undefined) {
    const session = typeof claims.sid === 'string' ? await services.sessions.find(claims.sid) : null
    if (!session || session.endedAt) throw new InvalidRequest(`the session of the ${name} has ended`)
  }
  return { claims: verified, userScopes: user.scopes }
}

async function refused (request: GrantRequest, services: GrantServices, reason: string, detail: Record<string, unknown> = {}): Promise<void> {
  await services.audit.record({ type: 'token_exchange_refused', actor: request.client.id, clientId: request.client.id, ip: request.ip, detail: { reason, ...detail } })
}
