/**
 * Finds the `jwks_uri` of an issuer from its metadata (OpenID Connect Discovery 1.0 §4, which
 * Stamp also serves as RFC 8414 metadata).
 *
 * @module
 */
import type { FetchLike } from './jwks_cache.js'

export interface DiscoveryOptions {
  fetch?: FetchLike
  /** Request timeout in ms (default 5000). */
  timeout?: number
  headers?: Record<string, string>
}

/**
 * Fetches `<issuer>/.well-known/openid-configuration` and returns its `jwks_uri`.
 *
 * OIDC Discovery §4.3: "The issuer value returned MUST be identical to the Issuer URL that was
 * used as the prefix to /.well-known/openid-configuration to retrieve the configuration
 * information." A mismatch is refused, so a redirect or a mix-up cannot substitute keys.
 *
 * @param issuer the issuer identifier, exactly as it appears in the tokens' `iss`
 * @param options fetch, timeout and headers
 * @returns the absolute `jwks_uri`
 * @see {@link https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig OIDC Discovery §4}
 */
export async function discoverJWKSUri (issuer: string, options: DiscoveryOptions = {}): Promise<string> {
  const fetchFn: FetchLike = options.fetch ?? ((input, init) => fetch(input, init))
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`
  const res = await fetchFn(url, {
    headers: { accept: 'application/json', ...options.headers },
    signal: AbortSignal.timeout(options.timeout ?? 5000),
  })
  if (res.status !== 200) {
    await res.body?.cancel()
    throw new Error(`discovery request answered ${res.status}`)
  }
  const metadata = await res.json() as { issuer?: unknown, jwks_uri?: unknown }
  if (metadata?.issuer !== issuer) throw new Error(`discovery document names issuer ${String(metadata?.issuer)}, expected ${issuer}`)
  if (typeof metadata.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri')
  const jwksUri = new URL(metadata.jwks_uri)
  if (jwksUri.protocol !== 'https:' && jwksUri.protocol !== 'http:') throw new Error('jwks_uri is not an http(s) URL')
  return jwksUri.href
}
