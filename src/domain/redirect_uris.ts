/**
 * Which URIs a client may register and be sent back to: redirect URIs (RFC 6749 §3.1.2, RFC 9700
 * §4.1, RFC 8252 §7), post-logout redirect URIs (RP-Initiated Logout §3) and back-channel logout
 * URIs (Back-Channel Logout §2.2).
 *
 * - `https` with a host; `http` only on loopback (`127.0.0.1`, `[::1]`, `localhost`: RFC 8252
 *   §7.3, §8.3), for native apps and development.
 * - For redirects only, a private-use scheme in reverse-DNS form (`com.example.app:/cb`, RFC 8252
 *   §7.1: "a URI scheme based on a domain name under their control, expressed in reverse order").
 * - Never `javascript:`, `data:`, `file:`, `vbscript:` (or any other scheme), a wildcard, userinfo
 *   (`https://a@b/` can mislead a user about where they go) or a fragment (RFC 6749 §3.1.2).
 *
 * Matching stays exact string comparison (RFC 9700 §4.1.3), except that for a loopback `http`
 * redirect "the authorization server MUST allow any port to be specified at the time of the
 * request" (RFC 8252 §7.3): native apps get an ephemeral port from the OS.
 *
 * @module
 */

export type URIKind = 'redirect_uri' | 'post_logout_redirect_uri' | 'backchannel_logout_uri'

const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', '[::1]', 'localhost']
const REFUSED_SCHEMES: readonly string[] = ['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'filesystem:']
/** RFC 8252 §7.1: reverse-DNS private-use scheme, at least two labels (`com.example.app`). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+:$/
/** A loopback http URI split into host and the rest, port aside (for RFC 8252 §7.3 matching). */
const LOOPBACK_URI = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?([/?][^#]*)?$/i

/** Why `uri` may not be registered or used as `kind`, or undefined when it may. */
export function uriProblem (uri: string, kind: URIKind): string | undefined {
  if (!URL.canParse(uri)) return `${kind} must be an absolute URI`
  if (uri.includes('#')) return `${kind} must not have a fragment`
  if (uri.includes('*')) return `${kind} must not contain wildcards`
  // The parser drops surrounding whitespace and backslash quirks; what is stored must be what is used.
  if (/[\s\\]/.test(uri)) return `${kind} must not contain whitespace or backslashes`
  const url = new URL(uri)
  const scheme = url.protocol.toLowerCase()
  if (REFUSED_SCHEMES.includes(scheme)) return `${kind} must not use the ${scheme} scheme`
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return `${kind} must not contain userinfo`
  if ((scheme === 'https:' || scheme === 'http:') && !/^https?:\/\/[^/?#]/i.test(uri)) return `${kind} must name a host`
  if (scheme === 'https:') return undefined
  if (scheme === 'http:') {
    return LOOPBACK_HOSTS.includes(url.hostname.toLowerCase()) ? undefined : `${kind} must use https (http is allowed only on loopback: 127.0.0.1, [::1], localhost)`
  }
  if (kind === 'backchannel_logout_uri') return `${kind} must use https (http is allowed only on loopback)`
  if (PRIVATE_USE_SCHEME.test(scheme)) return url.host ? `${kind} with a private-use scheme must not name a host (use ${scheme}/path)` : undefined
  return `${kind} must use https, http on loopback, or a reverse-DNS private-use scheme (com.example.app:/callback)`
}

/**
 * The registered URI `requested` matches: exactly, or for loopback http with any port
 * (RFC 8252 §7.3). Undefined when none does.
 */
export function matchRegisteredURI (registered: readonly string[], requested: string): string | undefined {
  if (registered.includes(requested)) return requested
  const asked = LOOPBACK_URI.exec(requested)
  if (!asked || (asked[2] !== undefined && Number(asked[2]) > 65535)) return undefined
  for (const uri of registered) {
    const candidate = LOOPBACK_URI.exec(uri)
    if (candidate && candidate[1].toLowerCase() === asked[1].toLowerCase() && (candidate[3] ?? '') === (asked[3] ?? '')) return uri
  }
  return undefined
}
