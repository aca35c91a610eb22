/**
 * Signed request objects (RFC 9101, JAR): authorization request parameters sent as a JWT in the
 * `request` parameter, at /authorize or inside a pushed authorization request.
 *
 * - Unsigned objects (`alg: none`) are refused (`invalid_request_object`): Stamp only accepts
 *   objects it can attribute to the client (§6.2 leaves that policy to the server). Encrypted ones
 *   (JWE) are not supported.
 * - Signed by one of the client's registered keys (jwks or jwks_uri, as for private_key_jwt),
 *   with an allow-listed algorithm (the client's registered `request_object_signing_alg` when it
 *   has one); `iss` must be the client_id and `aud` the issuer (§4); `exp`
 *   is required and at most `requestObjectMaxLifetime` ahead.
 * - The object's `client_id` must equal the `client_id` request parameter (§5).
 * - §5: "the authorization server MUST only use the parameters in the Request Object even if the
 *   same parameter is provided in the query parameter": what the caller gets back is the object's
 *   parameters alone (the caller adds `client_id`); every other outer parameter is ignored.
 *
 * @module
 */
import { decodeProtectedHeader } from 'jose'
import { InvalidRequestObject } from '../errors.js'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord } from '../storage/types.js'
import { refusalReason, signingAlgorithms, type ClientKeys } from './client_keys.js'

/** JWT claims that describe the object itself, not authorization parameters. */
const JWT_CLAIMS = new Set(['iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'sub'])

export interface RequestObjectContext {
  keys: ClientKeys
  issuer: string
  policy: Pick<Policy['clientKeys'], 'requestObjectMaxLifetime' | 'clockSkew'>
  now?: () => number
}

/** The authorization parameters inside `jwt`, verified for `client`; throws invalid_request_object. */
export async function requestObjectParameters (jwt: string, client: ClientRecord, context: RequestObjectContext): Promise<Record<string, string[]>> {
  let alg: string | undefined
  try {
    alg = decodeProtectedHeader(jwt).alg
  } catch {
    throw new InvalidRequestObject('the request object is not a JWT')
  }
  if (jwt.split('.').length !== 3) throw new InvalidRequestObject('encrypted request objects are not supported; sign it instead')
  if (alg === undefined || alg === 'none') throw new InvalidRequestObject('unsigned request objects are not accepted; sign it with a registered key')
  const nowMs = context.now?.() ?? Date.now()
  const algorithms = signingAlgorithms(client, 'request_object')
  let payload
  try {
    ({ payload } = await context.keys.verify(jwt, client, {
      algorithms,
      issuer: client.id,
      audience: context.issuer,
      requiredClaims: ['exp'],
      clockTolerance: context.policy.clockSkew,
      currentDate: new Date(nowMs),
    }))
  } catch (err) {
    throw new InvalidRequestObject(refusalReason(err, 'request object', algorithms), { cause: err })
  }
  if (payload.exp! - nowMs / 1000 > context.policy.requestObjectMaxLifetime + context.policy.clockSkew) {
    throw new InvalidRequestObject(`the request object must expire within ${context.policy.requestObjectMaxLifetime} seconds`)
  }
  if (payload.client_id !== client.id) throw new InvalidRequestObject('the request object\'s client_id must equal the client_id parameter')
  const params: Record<string, string[]> = Object.create(null)
  for (const [name, value] of Object.entries(payload)) {
    if (JWT_CLAIMS.has(name)) continue
    // §4: "The Request Object MUST NOT include the request or request_uri parameters".
    if (name === 'request' || name === 'request_uri') throw new InvalidRequestObject(`a request object must not contain ${name}`)
    if (typeof value === 'string') params[name] = [value]
    else if (typeof value === 'number' || typeof value === 'boolean') params[name] = [String(value)]
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) params[name] = value
    else params[name] = [JSON.stringify(value)]
  }
  return params
}
