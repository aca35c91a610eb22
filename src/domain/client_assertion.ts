/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): the client proves
 * itself with a JWT signed by one of its registered keys.
 *
 * - `iss` and `sub` "MUST" be the client_id (OIDC Core §9; RFC 7523 §3 items 1 and 2).
 * - `aud` (§3 item 3): the issuer identifier, the token endpoint URL or the URL of the endpoint
 *   called, as a string or in an array. A `fapi2` client: only the issuer, as a single string
 *   (FAPI 2.0 Security Profile §5.3.2.1, against audience injection).
 * - `exp` is required (§3 item 4) and at most `assertionMaxLifetime` ahead; `nbf`/`iat` may not lie
 *   in the future beyond the clock skew.
 * - `jti` is required and used once until the assertion expires (OIDC Core §9: "the jti value MUST
 *   NOT be reused"), through the replay store every instance shares.
 * - Algorithms from an allow-list (never `none` nor HMAC), pinned per key type (client_keys.ts),
 *   and to the client's registered `token_endpoint_auth_signing_alg` when it has one.
 *
 * Every refusal is `invalid_client` (RFC 6749 §5.2), so the route audits it as a failed client
 * authentication.
 *
 * @module
 */
import { InvalidClient } from '../errors.js'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord, ReplayStore } from '../storage/types.js'
import { FAPI2_PROFILE, refusalReason, signingAlgorithms, type ClientKeys } from './client_keys.js'

// Defined beside the key rules (client_keys.ts needs them and is imported from here).
export { FAPI2_PROFILE, PRIVATE_KEY_JWT } from './client_keys.js'

/** RFC 7523 §2.2 `client_assertion_type`. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The audiences an assertion may name: the issuer, the token endpoint, the endpoint called. */
export interface AssertionAudience { issuer: string, endpoints: string[] }

export interface ClientAssertionVerifierOptions {
  keys: ClientKeys
  replay: ReplayStore
  policy: Pick<Policy['clientKeys'], 'assertionMaxLifetime' | 'clockSkew'>
  now?: () => number
}

export class ClientAssertionVerifier {
  readonly #o: ClientAssertionVerifierOptions

  constructor (options: ClientAssertionVerifierOptions) {
    this.#o = options
  }

  /** Throws invalid_client unless `assertion` authenticates `client` at an endpoint with these audiences. */
  async verify (assertion: string, client: ClientRecord, audience: AssertionAudience): Promise<void> {
    const fapi = client.profile === FAPI2_PROFILE
    const { policy } = this.#o
    const nowMs = this.#o.now?.() ?? Date.now()
    const algorithms = signingAlgorithms(client, 'assertion')
    let payload
    try {
      ({ payload } = await this.#o.keys.verify(assertion, client, {
        algorithms,
        issuer: client.id,
        subject: client.id,
        audience: fapi ? audience.issuer : [audience.issuer, ...audience.endpoints],
        requiredClaims: ['exp', 'jti'],
        clockTolerance: policy.clockSkew,
        currentDate: new Date(nowMs),
      }))
    } catch (err) {
      throw new InvalidClient(refusalReason(err, 'client assertion', algorithms), { cause: err })
    }
    const now = nowMs / 1000
    if (fapi && payload.aud !== audience.issuer) throw new InvalidClient('the client assertion\'s aud must be the issuer identifier, as a single string')
    if (payload.exp! - now > policy.assertionMaxLifetime + policy.clockSkew) throw new InvalidClient(`the client assertion must expire within ${policy.assertionMaxLifetime} seconds`)
    if (typeof payload.iat === 'number' && payload.iat > now + policy.clockSkew) throw new InvalidClient('the client assertion\'s iat lies in the future')
    const jti = payload.jti
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw new InvalidClient('the client assertion\'s jti must be a string of 1 to 256 characters')
    const fresh = await this.#o.replay.markUsed(`client_assertion:${client.id}`, jti, new Date(payload.exp! * 1000), new Date(nowMs))
    if (!fresh) throw new InvalidClient('the client assertion was used before (its jti is single-use)')
  }
}
