/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for a resource server, e.g. an MCP server:
 * the document clients fetch to learn which authorization server issues tokens for this resource
 * and which scopes exist, where it lives (§3.1), and the `resource_metadata` URL the 401
 * challenge points to (§5.1). Shared by the Fastify plugin and the node:http helper.
 *
 * @module
 */
import type { Verifier, VerifierOptions } from './verifier.js'

/** What a resource server says about itself; `resource` is its canonical URI (RFC 8707 §2). */
export interface ProtectedResourceOptions {
  /**
   * The resource identifier: the canonical URI clients send as `resource` (RFC 8707) and that
   * tokens must carry as `aud`, e.g. `https://mcp.example.com/mcp`. No fragment, no query.
   */
  resource: string
  /** Issuer identifiers of the authorization servers (RFC 9728 §2 `authorization_servers`). */
  authorizationServers: string[]
  /** Scopes used to access this resource (`scopes_supported`), e.g. `['mcp:tools.read']`. */
  scopesSupported?: string[]
  /** Human-readable name (`resource_name`). */
  resourceName?: string
  /** URL of human-readable documentation (`resource_documentation`). */
  resourceDocumentation?: string
}

/** The RFC 9728 §2 document (the members this verifier can stand behind). */
export interface ProtectedResourceMetadata {
  resource: string
  authorization_servers: string[]
  scopes_supported?: string[]
  bearer_methods_supported: ['header']
  resource_name?: string
  resource_documentation?: string
  /** RFC 9728 §2: proof algorithms accepted, when DPoP is. */
  dpop_signing_alg_values_supported?: string[]
  /** RFC 9728 §2: only DPoP-bound tokens are accepted. */
  dpop_bound_access_tokens_required?: boolean
}

/** The well-known suffix registered by RFC 9728 §8.3. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource'

/**
 * Checks and canonicalizes a resource identifier. RFC 8707 §2: "MUST be an absolute URI … MUST
 * NOT include a fragment component"; RFC 9728 §1.2 names an https URL without fragment (http is
 * accepted for loopback development). Scheme and host are lower-cased (`URL` does that), so the
 * value compared with the token's `aud` is the one clients compute from the URL too.
 *
 * @param uri the resource's URI as configured
 * @returns the canonical form (`new URL(uri).href`)
 * @throws TypeError for anything that is not an absolute http(s) URL without query and fragment
 * @see {@link https://www.rfc-editor.org/rfc/rfc8707#section-2 RFC 8707 §2}
 */
export function canonicalResourceURI (uri: string): string {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new TypeError('resource must be an absolute http(s) URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('resource must be an absolute http(s) URL')
  if (url.hash || uri.includes('#')) throw new TypeError('resource must not have a fragment (RFC 8707 §2)')
  if (url.search || uri.includes('?')) throw new TypeError('resource must not have a query (RFC 9728 §3.1)')
  if (url.username || url.password) throw new TypeError('resource must not carry credentials')
  return url.href
}

/**
 * Where the metadata of `resource` is served, as a path on the resource's own origin. RFC 9728
 * §3.1: the well-known string "is inserted … between the host component and the path
 * component"; a resource without a path (or `/`) uses the bare well-known path.
 *
 * @example
 * ```ts
 * resourceMetadataPath('https://mcp.example.com/mcp') // '/.well-known/oauth-protected-resource/mcp'
 * resourceMetadataPath('https://mcp.example.com')     // '/.well-known/oauth-protected-resource'
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc9728#section-3.1 RFC 9728 §3.1}
 */
export function resourceMetadataPath (resource: string): string {
  const { pathname } = new URL(canonicalResourceURI(resource))
  return pathname === '/' ? PROTECTED_RESOURCE_WELL_KNOWN : PROTECTED_RESOURCE_WELL_KNOWN + pathname.replace(/\/+$/, '')
}

/** The absolute URL of the metadata, for `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1). */
export function resourceMetadataURL (resource: string): string {
  return new URL(resourceMetadataPath(resource), canonicalResourceURI(resource)).href
}

/**
 * Builds the RFC 9728 §2 metadata document. `bearer_methods_supported` is `["header"]`: the
 * verifier accepts tokens only in the `Authorization` header (RFC 6750 §2.1).
 *
 * @throws TypeError for a bad resource URI, an empty or non-URL `authorization_servers`, or bad scopes
 * @see {@link https://www.rfc-editor.org/rfc/rfc9728#section-2 RFC 9728 §2}
 */
export function protectedResourceMetadata (options: ProtectedResourceOptions): ProtectedResourceMetadata {
  const resource = canonicalResourceURI(options.resource)
  const servers = options.authorizationServers
  if (!Array.isArray(servers) || !servers.length || servers.some((s) => typeof s !== 'string' || !/^https?:\/\//.test(s))) {
    throw new TypeError('authorizationServers must list at least one issuer URL')
  }
  const metadata: ProtectedResourceMetadata = { resource, authorization_servers: [...servers], bearer_methods_supported: ['header'] }
  if (options.scopesSupported !== undefined) {
    const scopes = options.scopesSupported
    // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) {
      throw new TypeError('scopesSupported must be a list of scope names')
    }
    metadata.scopes_supported = [...scopes]
  }
  if (options.resourceName !== undefined) metadata.resource_name = String(options.resourceName)
  if (options.resourceDocumentation !== undefined) metadata.resource_documentation = new URL(options.resourceDocumentation).href
  return metadata
}

/**
 * Headers for the metadata response: public, cacheable for a few minutes, readable cross-origin
 * (browser-based MCP clients fetch it from another origin; it holds nothing secret).
 */
export const METADATA_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'public, max-age=300',
  'access-control-allow-origin': '*',
}

/**
 * The CORS preflight answer for the metadata: MCP clients send `MCP-Protocol-Version` with it, a
 * non-simple header, so browsers ask first. No credentials are involved, so `*` is safe.
 */
export const METADATA_PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': '*',
  'access-control-max-age': '600',
}

/**
 * The part of the helpers' options that describes the protected resource. `resource` switches
 * the metadata and the `resource_metadata` challenge on, and becomes the default audience.
 */
export interface ResourceServerOptions {
  /** The resource's canonical URI (RFC 8707); the tokens' `aud` must contain it. */
  resource?: string
  /** Authorization servers to advertise (default: the verifier's issuer). */
  authorizationServers?: string[]
  /** Scopes to advertise in the metadata. */
  scopesSupported?: string[]
  resourceName?: string
  resourceDocumentation?: string
}

/**
 * The options of both the Fastify plugin and the node:http helper: the verifier's options (with
 * `resource`, `audience` defaults to it) or a verifier built elsewhere (shared between them), the
 * protected-resource description, and the challenge's realm.
 */
export type ResourceAuthOptions = (
  | (Omit<VerifierOptions, 'audience'> & { audience?: VerifierOptions['audience'] })
  | { verifier: Verifier }
) & ResourceServerOptions & {
  /** RFC 6750 §3 `realm` in the challenge; omitted when not given. */
  realm?: string
  /**
   * The public base URL requests arrive at, e.g. `https://api.example.com` (plus any path prefix
   * a proxy strips): a DPoP proof's `htu` is checked against it and the request path. Without
   * it, the URL is built from the request's protocol and Host (behind a proxy: set this).
   */
  publicURL?: string
}

/** The resolved resource description the helpers work with. */
export interface ResourceServer {
  resource: string
  metadata: ProtectedResourceMetadata
  /** Path to serve the metadata at (RFC 9728 §3.1). */
  metadataPath: string
  /** Absolute URL of the metadata, for the challenge. */
  metadataURL: string
}

/**
 * Resolves the resource options against the verifier's issuer and audience: the audience must
 * contain the resource, or a token for another resource would be accepted here.
 *
 * @internal
 */
export function resolveResourceServer (options: ResourceServerOptions, issuer: string, audience: readonly string[], dpop?: { algorithms: readonly string[], required: boolean }): ResourceServer | undefined {
  if (options.resource === undefined) return undefined
  const metadata = protectedResourceMetadata({
    resource: options.resource,
    authorizationServers: options.authorizationServers ?? [issuer],
    scopesSupported: options.scopesSupported,
    resourceName: options.resourceName,
    resourceDocumentation: options.resourceDocumentation,
  })
  if (dpop) {
    metadata.dpop_signing_alg_values_supported = [...dpop.algorithms]
    if (dpop.required) metadata.dpop_bound_access_tokens_required = true
  }
  if (!audience.includes(metadata.resource)) {
    throw new TypeError(`audience must contain the resource's canonical URI ${metadata.resource} (RFC 8707)`)
  }
  return { resource: metadata.resource, metadata, metadataPath: resourceMetadataPath(metadata.resource), metadataURL: resourceMetadataURL(metadata.resource) }
}

/**
 * The verifier options with `audience` defaulting to the canonical resource URI.
 *
 * @internal
 */
export function withResourceAudience<T extends { audience?: string | string[], resource?: string }> (options: T): T & { audience: string | string[] } {
  if (options.audience !== undefined || options.resource === undefined) return options as T & { audience: string | string[] }
  return { ...options, audience: canonicalResourceURI(options.resource) }
}

/**
 * The public URL of a request, for a DPoP proof's `htu`: `publicURL` + path when configured,
 * otherwise protocol and Host as the server sees them. The query is never part of it (§4.3).
 *
 * @internal
 */
export function requestURL (publicURL: string | undefined, protocol: string, host: string | undefined, path: string): string {
  const pathOnly = path.split('?')[0].split('#')[0]
  if (publicURL !== undefined) return publicURL.replace(/\/+$/, '') + pathOnly
  return `${protocol}://${host ?? 'localhost'}${pathOnly}`
}
