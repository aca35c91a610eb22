/**
 * `stamp-verifier/http`: bearer-token authentication for `node:http` servers and for anything
 * built on them (Express, Connect, MCP servers), without a framework dependency.
 *
 * `bearerAuth(options)` returns an object with
 * - `authorize(req, res, scopes?)`: verifies the request's token (and scopes); resolves to the
 *   claims, or answers the refusal itself (RFC 6750 §3) and resolves to `null`;
 * - `middleware(...scopes)`: the same as Express/Connect middleware, setting `req.auth`;
 * - `authenticate(req)`: only verifies, throwing a {@link StampVerifierError} subclass.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { bearerToken } from './bearer.js'
import { errorBody, StampVerifierError, wwwAuthenticate } from './errors.js'
import { assertScopes, createVerifier, type AccessTokenClaims, type Verifier, type VerifierOptions } from './verifier.js'

export type { AccessTokenClaims, Verifier, VerifierOptions } from './verifier.js'
export { bearerToken } from './bearer.js'

/** The verifier's options, or a verifier built elsewhere; plus the challenge's realm. */
export type BearerAuthOptions = (VerifierOptions | { verifier: Verifier }) & {
  /** RFC 6750 §3 `realm` in the challenge; omitted when not given. */
  realm?: string
}

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
  authorize (req: IncomingMessage, res: ServerResponse, scopes?: readonly string[]): Promise<AccessTokenClaims | null>
  /** Express/Connect middleware: sets `req.auth` and calls `next()`, or answers the refusal. */
  middleware (...scopes: string[]): Middleware
  /** Answers a refusal for `err` as RFC 6750 §3 describes. */
  refuse (res: ServerResponse, err: unknown): void
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
  const verifier = 'verifier' in options ? options.verifier : createVerifier(options)
  const { realm } = options

  function refuse (res: ServerResponse, err: unknown): void {
    const { statusCode, error, error_description: description } = errorBody(err)
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }
    // 503 means our keys are unavailable: no challenge, the client's token may be fine.
    if (statusCode !== 503) headers['www-authenticate'] = wwwAuthenticate(err, { realm })
    res.writeHead(statusCode, headers).end(JSON.stringify({ error, error_description: description }))
  }

  async function authenticate (req: IncomingMessage): Promise<AccessTokenClaims> {
    const header = req.headers.authorization
    return verifier.verify(bearerToken(Array.isArray(header) ? header[0] : header))
  }

  async function authorize (req: IncomingMessage, res: ServerResponse, scopes: readonly string[] = []): Promise<AccessTokenClaims | null> {
    try {
      const claims = await authenticate(req)
      if (scopes.length) assertScopes(claims, scopes)
      return claims
    } catch (err) {
      if (!(err instanceof StampVerifierError)) throw err
      refuse(res, err)
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

  return { verifier, authenticate, authorize, middleware, refuse }
}
