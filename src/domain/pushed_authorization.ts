/**
 * Pushed authorization requests (RFC 9126): the client posts its authorization request to /par,
 * gets a `request_uri` back, and sends the browser to /authorize with only that and its client_id.
 *
 * The reference is 256 random bits; only its SHA-256 is stored (the stored row cannot be replayed
 * from a database dump). It is single-use and short-lived (§2.2, §4).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord } from '../storage/types.js'
import { FAPI2_PROFILE } from './client_assertion.js'

/** RFC 9126 §2.2: "urn:ietf:params:oauth:request_uri:<reference-value>". */
export const PAR_URN_PREFIX = 'urn:ietf:params:oauth:request_uri:'

export function newRequestReference (): { requestUri: string, id: string } {
  const reference = randomBytes(32).toString('base64url')
  const requestUri = PAR_URN_PREFIX + reference
  return { requestUri, id: requestReferenceId(requestUri)! }
}

/** The stored id of a `request_uri` (its hash); undefined when it is not a PAR reference. */
export function requestReferenceId (requestUri: string): string | undefined {
  if (!requestUri.startsWith(PAR_URN_PREFIX) || requestUri.length > PAR_URN_PREFIX.length + 128) return undefined
  return createHash('sha256').update(requestUri).digest('base64url')
}

/** RFC 9126 §5/§6: the setting for every client, the client's own, or its profile (FAPI 2.0 §5.3.2.2). */
export function pushedRequestsRequired (client: ClientRecord, policy: Pick<Policy, 'pushedAuthorizationRequests'>): boolean {
  return policy.pushedAuthorizationRequests.required || client.requirePushedAuthorizationRequests === true || client.profile === FAPI2_PROFILE
}
