/**
 * `stamp-verifier/http`: bearer-token authentication for `node:http` servers and for anything
 * built on them (Express, Connect, MCP servers), without a framework dependency.
 *
 * `bearerAuth(options)` returns an object with
 * - `authorize(req, res, scopes?)`: verifies the request's token (and scopes); resolves to the
 *   claims, or answers the refusal itself (RFC 6750 §3) and resolves to `null`;
 * - `middleware(...scopes)`: the same as Express/Connect middleware, setting `req.auth`;
 * - `authenticate(req)`: only verifies, throwing a {@link StampVerifierError} subclass;
 * - with `resource`, `serveMetadata(req, res)` / `metadataMiddleware()`: the RFC 9728
 *   protected-resource metadata at its well-known path, and every challenge carries
 *   `resource_metadata` (what MCP clients start from).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { DPoPNonceRequired, errorBody, StampVerifierError, wwwAuthenticate } from './errors.js'
import {
  assertAuthentication, assertScopes, checkRequirement, createVerifier, type AccessTokenClaims, type AuthenticationRequirement, type Verifier, type VerifierOptions,
} from './verifier.js'
import { METADATA_HEADERS, METADATA_PREFLIGHT_HEADERS, requestURL, resolveResourceServer, withResourceAudience, type ProtectedResourceMetadata, type ResourceAuthOptions } from './resource_metadata.js'

export type { AccessTokenClaims, AuthenticationRequirement, Verifier, VerifierOptions } from './verifier.js'
export { bearerToken } from './bearer.js'

export type { ProtectedResourceMetadata, ResourceAuthOptions, ResourceServerOptions } from './resource_metadata.js'

/** The verifier, the protected-resource description and the realm: {@link ResourceAuthOptions}. */
export type BearerAuthOptions = ResourceAuthOptions

/** A request that went through {@link BearerAuth.middleware}. */
export type AuthenticatedRequest = IncomingMessage & { auth?: AccessTokenClaims }

/** Express/Connect middleware signature; `next(err)` only for unexpected errors. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

export interface BearerAuth {
  /** The verifier in use (its `jwks.stats` are handy for metrics). */
  readonly verifier: Verifier
  /**
   * Verifies the bearer token of `req` and returns its claims.
   *
   * @throws a {@link StampVerifierError} subclass (map it with {@link BearerAuth.refuse})
   */
  authenticate (req: IncomingMessage): Promise<AccessTokenClaims>
  /**
   * Verifies the token and requires every one of `scopes`. On success resolves to the claims;
   * otherwise answers 400/401/403/503 with `WWW-Authenticate` and a JSON body, and resolves to `null`.
   */
  authorize (req: IncomingMessage, res: ServerResponse, scopes?: readonly string[], requirement?: AuthenticationRequirement): Promise<AccessTokenClaims | null>
  /** Express/Connect middleware: sets `req.auth` and calls `next()`, or answers the refusal. */
  middleware (...scopes: string[]): Middleware
  /** Middleware that also requires acr values and/or a maximum authentication age (RFC 9470). */
  requireAuthentication (requirement: AuthenticationRequirement & { scopes?: string[] }): Middleware
  /** Answers a refusal for `err` as RFC 6750 §3 describes; `scopes` go into a 401's challenge. */
  refuse (res: ServerResponse, err: unknown, scopes?: readonly string[]): void
  /** The RFC 9728 metadata document (only with `resource`). */
  readonly metadata: ProtectedResourceMetadata | undefined
  /** The path the metadata is served at, e.g. `/.well-known/oauth-protected-resource/mcp` (RFC 9728 §3.1). */
  readonly metadataPath: string | undefined
  /** The absolute metadata URL that challenges carry as `resource_metadata` (RFC 9728 §5.1). */
  readonly metadataURL: string | undefined
  /**
   * Answers `GET`/`HEAD`/`OPTIONS` for the metadata path and returns `true`; returns `false` for any
   * other request (and always without `resource`).
   */
  serveMetadata (req: IncomingMessage, res: ServerResponse): boolean
  /** {@link BearerAuth.serveMetadata} as Express/Connect middleware (`app.use(auth.metadataMiddleware())`). */
  metadataMiddleware (): Middleware
}

/**
 * Creates bearer-token authentication for `node:http` request handlers.
 *
 * @param options the verifier's options (issuer, audience, …) or `{ verifier }`, and `realm`
 * @example
 * ```js
 * import { createServer } from 'node:http'
 * import { bearerAuth } from 'stamp-verifier/http'
 *
 * const auth = bearerAuth({ issuer: 'https://stamp.example', audience: 'https://orders.example' })
 * createServer(async (req, res) => {
 *   const claims = await auth.authorize(req, res, ['orders:read'])
 *   if (!claims) return                          // 401/403 already sent
 *   res.end(JSON.stringify({ for: claims.sub }))
 * }).listen(4100)
 *
 * // Express: app.get('/orders', auth.middleware('orders:read'), (req, res) => res.json({ for: req.auth.sub }))
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 RFC 6750 §3}
 */
export function bearerAuth (options: BearerAuthOptions): BearerAuth {
  const verifier = 'verifier' in options ? options.verifier : createVerifier(withResourceAudience(options) as VerifierOptions)
  const { realm, publicURL } = options
  const dpop = verifier.dpop && { algorithms: verifier.dpop.algorithms, required: verifier.dpop.required }
  const server = resolveResourceServer(options, verifier.issuer, verifier.audience, dpop)
  const metadataBody = server && JSON.stringify(server.metadata)

  function refuse (res: ServerResponse, err: unknown, scopes?: readonly string[]): void {
    const { statusCode, error, error_description: description } = errorBody(err)
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
    // 503 means our keys are unavailable: no challenge, the client's token may be fine.
    if (statusCode !== 503) headers['www-authenticate'] = wwwAuthenticate(err, { realm, resourceMetadata: server?.metadataURL, scope: server && scopes, dpop })
    // RFC 9449 §9: the nonce to retry with.
    if (err instanceof DPoPNonceRequired) headers['dpop-nonce'] = err.nonce
    res.writeHead(statusCode, headers).end(JSON.stringify({ error, error_description: description }))
  }

  function serveMetadata (req: IncomingMessage, res: ServerResponse): boolean {
    // Express strips a mount path from req.url; the metadata's place is fixed on the origin (§3.1).
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? ''
    if (!server || url.split('?')[0] !== server.metadataPath) return false
    if (req.method === 'OPTIONS') {
      res.writeHead(204, METADATA_PREFLIGHT_HEADERS).end()
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      res.writeHead(200, METADATA_HEADERS).end(req.method === 'HEAD' ? undefined : metadataBody)
    } else {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS', 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
        .end(JSON.stringify({ error: 'invalid_request', error_description: 'the metadata is read with GET' }))
    }
    return true
  }

  async function authenticate (req: IncomingMessage): Promise<AccessTokenClaims> {
    const header = req.headers.authorization
    // Express strips a mount path from req.url; the proof is for the URL the client called.
    const path = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/'
    const protocol = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
    return verifier.verifyRequest({
      authorization: Array.isArray(header) ? header[0] : header,
      dpop: req.headers.dpop,
      method: req.method ?? 'GET',
      url: requestURL(publicURL, protocol, req.headers.host, path),
    })
  }

  async function authorize (req: IncomingMessage, res: ServerResponse, scopes: readonly string[] = [], requirement?: AuthenticationRequirement): Promise<AccessTokenClaims | null> {
    try {
      const claims = await authenticate(req)
      if (scopes.length) assertScopes(claims, scopes)
      if (requirement) assertAuthentication(claims, requirement)
      return claims
    } catch (err) {
      if (!(err instanceof StampVerifierError)) throw err
      refuse(res, err, scopes)
      return null
    }
  }

  function middleware (...scopes: string[]): Middleware {
    if (scopes.some((s) => typeof s !== 'string' || !s || s.includes(' '))) throw new TypeError('middleware takes scope names')
    return (req, res, next) => {
      authorize(req, res, scopes).then((claims) => {
        if (!claims) return
        ;(req as AuthenticatedRequest).auth = claims
        next()
      }, next)
    }
  }

  function requireAuthentication (requirement: AuthenticationRequirement & { scopes?: string[] }): Middleware {
    checkRequirement(requirement)
    const scopes = requirement.scopes ?? []
    if (scopes.some((s) => typeof s !== 'string' || !s || s.includes(' '))) throw new TypeError('scopes must be scope names')
    return (req, res, next) => {
      authorize(req, res, scopes, requirement).then((claims) => {
        if (!claims) return
        ;(req as AuthenticatedRequest).auth = claims
        next()
      }, next)
    }
  }

  return {
    verifier,
    authenticate,
    authorize,
    middleware,
    requireAuthentication,
    refuse,
    metadata: server?.metadata,
    metadataPath: server?.metadataPath,
    metadataURL: server?.metadataURL,
    serveMetadata,
    metadataMiddleware: () => (req, res, next) => { if (!serveMetadata(req, res)) next() },
  }
}
