/**
 * Who a token speaks for, and whether they still may: the checks /userinfo and /introspect share.
 *
 * A client_credentials token's subject is the client itself (`sub` = `client_id`, RFC 9068
 * §2.2); every other access token's subject is a user, which must still exist and be enabled,
 * and whose session (`sid`), when the token names one, must not have ended.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { JWTPayload } from 'jose'
import type { UserRecord } from '../../storage/types.js'

/** True for a token a client obtained for itself (client_credentials): it has no user. */
export function isClientToken (claims: JWTPayload): boolean {
  return typeof claims.sub === 'string' && claims.sub === claims.client_id
}

/** The user behind a token, or null when there is none or they are disabled. */
export async function liveUser (app: FastifyInstance, userId: string | null | undefined): Promise<UserRecord | null> {
  if (typeof userId !== 'string') return null
  const user = await app.usersRepository.findById(userId)
  return user && !user.disabled ? user : null
}

/** A token bound to a session is only good while the session lasts (logout ends it). */
export async function sessionLive (app: FastifyInstance, sid: unknown): Promise<boolean> {
  if (sid === undefined || sid === null) return true
  if (typeof sid !== 'string') return false
  const session = await app.sso.findSession(sid)
  return session !== null && !session.endedAt
}

/** An access token's holder is still entitled to it: a client token, or a live user in a live session. */
export async function accessTokenHolderActive (app: FastifyInstance, claims: JWTPayload): Promise<boolean> {
  if (isClientToken(claims)) return true
  return await liveUser(app, claims.sub) !== null && await sessionLive(app, claims.sid)
}
