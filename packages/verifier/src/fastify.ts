/**
 * `stamp-verifier/fastify`: a Fastify plugin that authenticates bearer access tokens issued by Stamp.
 *
 * Decorates the instance with `authenticate` (a preHandler that verifies the token and sets
 * `request.auth`) and `requireScope(...scopes)` (a preHandler that also demands scopes), answering
 * refusals itself as RFC 6750 §3 describes: 401 with `WWW-Authenticate: Bearer …` for a missing or
 * invalid token, 403 `insufficient_scope` with the needed `scope`, and a JSON body
 * `{ error, error_description }`. With `resource` (the resource's canonical URI, RFC 8707), it
 * also serves the RFC 9728 protected-resource metadata at its well-known path, and every
 * challenge carries `resource_metadata="…"` (RFC 9728 §5.1), so an MCP client that knows only
 * this server's URL finds the authorization server.
 *
 * @module
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import {
  createVerifier, assertAuthentication, assertScopes, checkRequirement, type AccessTokenClaims, type AuthenticationRequirement, type Verifier, type VerifierOptions,
} from './verifier.js'
import { DPoPNonceRequired, StampVerifierError, errorBody, wwwAuthenticate } from './errors.js'
import { METADATA_HEADERS, METADATA_PREFLIGHT_HEADERS, requestURL, resolveResourceServer, withResourceAudience, type ResourceAuthOptions } from './resource_metadata.js'

export type { AccessTokenClaims, AuthenticationRequirement, Verifier, VerifierOptions } from './verifier.js'
export type { ProtectedResourceMetadata, ResourceAuthOptions, ResourceServerOptions } from './resource_metadata.js'
export { bearerToken } from './bearer.js'

/** Plugin options: {@link ResourceAuthOptions}, and whether to serve the metadata route. */
export type StampAuthOptions = ResourceAuthOptions & {
  /**
   * Serve the RFC 9728 metadata route (default `true` when `resource` is set). Register the plugin
   * without a `prefix`: the metadata's path is fixed on the origin (RFC 9728 §3.1).
   */
  serveMetadata?: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token's claims; `null` until `authenticate` ran. */
    auth: AccessTokenClaims | null
  }
  interface FastifyInstance {
    /** preHandler: verifies the bearer token and sets `request.auth`, or answers 401. */
    authenticate: preHandlerAsyncHookHandler
    /** preHandler: authenticates (if not done yet) and requires every one of `scopes`, or answers 403. */
    requireScope (...scopes: string[]): preHandlerAsyncHookHandler
    /**
     * preHandler: authenticates (if not done yet) and requires the user's authentication to meet
     * `requirement` (acr values, maximum age), or answers 401 insufficient_user_authentication
     * (RFC 9470); `scopes` are required as by requireScope.
     */
    requireAuthentication (requirement: AuthenticationRequirement & { scopes?: string[] }): preHandlerAsyncHookHandler
    /** The verifier the plugin uses (its `jwks.stats` are handy for metrics). */
    stampVerifier: Verifier
  }
}

async function stampAuth (app: FastifyInstance, options: StampAuthOptions): Promise<void> {
  const verifier = 'verifier' in options ? options.verifier : createVerifier(withResourceAudience(options) as VerifierOptions)
  const { realm, publicURL } = options
  const dpop = verifier.dpop && { algorithms: verifier.dpop.algorithms, required: verifier.dpop.required }
  const server = resolveResourceServer(options, verifier.issuer, verifier.audience, dpop)

  function refuse (request: FastifyRequest, reply: FastifyReply, err: unknown, scopes?: readonly string[]): FastifyReply {
    const { statusCode, error, error_description: description } = errorBody(err)
    request.log.debug({ code: err instanceof StampVerifierError ? err.code : undefined, err: (err as Error)?.cause }, 'bearer token refused')
    reply.code(statusCode).header('cache-control', 'no-store')
    // 503 means our keys are unavailable: no challenge, the client's token may be fine.
    if (statusCode !== 503) reply.header('www-authenticate', wwwAuthenticate(err, { realm, resourceMetadata: server?.metadataURL, scope: server && scopes, dpop }))
    // RFC 9449 §9: the nonce to retry with.
    if (err instanceof DPoPNonceRequired) reply.header('dpop-nonce', err.nonce)
    return reply.send({ error, error_description: description })
  }

  async function verifyRequest (request: FastifyRequest, reply: FastifyReply, scopes?: readonly string[]): Promise<FastifyReply | undefined> {
    try {
      request.auth = await verifier.verifyRequest({
        authorization: request.headers.authorization,
        dpop: request.headers.dpop,
        method: request.method,
        url: requestURL(publicURL, request.protocol, request.host, request.url),
      })
    } catch (err) {
      return refuse(request, reply, err, scopes)
    }
  }

  const authenticate: preHandlerAsyncHookHandler = async function (request, reply) {
    return verifyRequest(request, reply)
  }

  if (server && options.serveMetadata !== false) {
    const body = JSON.stringify(server.metadata)
    // RFC 9728 §3.1: at the well-known path derived from the resource URI, on this origin.
    app.get(server.metadataPath, async (_request, reply) => reply.headers(METADATA_HEADERS).send(body))
    app.options(server.metadataPath, async (_request, reply) => reply.code(204).headers(METADATA_PREFLIGHT_HEADERS).send())
  }

  app.decorateRequest('auth', null)
  app.decorate('stampVerifier', verifier)
  app.decorate('authenticate', authenticate)
  app.decorate('requireAuthentication', function requireAuthentication (requirement: AuthenticationRequirement & { scopes?: string[] }): preHandlerAsyncHookHandler {
    checkRequirement(requirement)
    const scopes = requirement.scopes ?? []
    if (scopes.some((s) => typeof s !== 'string' || !s || s.includes(' '))) throw new TypeError('scopes must be scope names')
    return async function (request, reply) {
      if (!request.auth) {
        await verifyRequest(request, reply, scopes)
        if (reply.sent) return reply
      }
      try {
        if (scopes.length) assertScopes(request.auth!, scopes)
        assertAuthentication(request.auth!, requirement)
      } catch (err) {
        return refuse(request, reply, err, scopes)
      }
    }
  })
  app.decorate('requireScope', function requireScope (...scopes: string[]): preHandlerAsyncHookHandler {
    if (!scopes.length || scopes.some((s) => typeof s !== 'string' || !s || s.includes(' '))) {
      throw new TypeError('requireScope takes one or more scope names')
    }
    return async function (request, reply) {
      if (!request.auth) {
        await verifyRequest(request, reply, scopes)
        if (reply.sent) return reply
      }
      try {
        assertScopes(request.auth!, scopes)
      } catch (err) {
        return refuse(request, reply, err, scopes)
      }
    }
  })
}

/**
 * The plugin. Register it once (it is not encapsulated), then guard routes with
 * `app.authenticate` or `app.requireScope(...)`.
 *
 * @example
 * ```js
 * import Fastify from 'fastify'
 * import stampAuth from 'stamp-verifier/fastify'
 *
 * const app = Fastify()
 * await app.register(stampAuth, { issuer: 'https://stamp.example', audience: 'https://orders.example' })
 * app.get('/orders', { preHandler: app.requireScope('orders:read') }, async (request) => ({ owner: request.auth.sub }))
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750 RFC 6750}
 */
const plugin = fp(stampAuth, { name: 'stamp-auth', fastify: '5.x' })
export default plugin
export { plugin as stampAuth }
