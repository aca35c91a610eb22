/**
 * Native apps (RFC 8252): which authorization requests come from a client whose identity the
 * redirect URI cannot assure.
 *
 * A private-use URI scheme (§7.1) can be claimed by any app on the device, and a loopback
 * redirect (§7.3) is served by whatever process listens on that port; only a claimed https URI
 * (§7.2) is bound to its owner by the platform. A public client has no secret to prove itself
 * with either, so for a public client on such a redirect URI §8.6 applies: "unless the identity of
 * the client can be proven, the request SHOULD be processed as if no previous request had been
 * approved".
 *
 * @module
 */
import type { ClientRecord } from '../storage/types.js'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

/** A private-use scheme or a loopback http URI: any app on the device could receive it. */
export function isNativeRedirect (redirectUri: string): boolean {
  let url: URL
  try {
    url = new URL(redirectUri)
  } catch {
    return false
  }
  if (url.protocol === 'https:') return false
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname)
  return true
}

/** RFC 8252 §8.6: remembered consent must not authorize this request without the user. */
export function clientIdentityUnproven (client: ClientRecord, redirectUri: string): boolean {
  return client.public && isNativeRedirect(redirectUri)
}
