/**
 * The admin API's own authentication (the "autohooks" of routes/admin): a Stamp access token
 * carrying the `stamp:admin` scope, verified with @fastify/jwt against Stamp's own published keys.
 *
 * Checks, in order (RFC 6750 §3.1 for the answers, RFC 9068 §4 for the validation):
 * 1. `Authorization: Bearer <token>`: absent → 401 with a bare `Bearer` challenge; not a
 *    Bearer header → 400 invalid_request.
 * 2. Signature by a published Stamp key whose `alg` matches the header's (the key is picked by
 *    `kid`; algorithms are pinned to the ones Stamp signs with), `iss` = issuer, `aud` contains the
 *    issuer (the admin API is Stamp's own resource; the request's public issuer when it is derived
 *    from a trusted proxy's headers), `exp`/`nbf`, `typ` = `at+jwt` → else 401
 *    invalid_token.
 * 3. `stamp:admin` in `scope` → else 403 insufficient_scope.
 * 4. The token's client is still registered, enabled and holds `stamp:admin`, and (for user
 *    tokens) the user is enabled and holds `stamp:admin` → else 401 invalid_token. Tokens live
 *    5 minutes, but disabling an admin or a client takes effect at once.
 *
 * Every refused token (steps 1-4 once a header was sent) is audited as `admin_token_rejected`.
 *
 * @module
 */
import jwt, { type TokenOrHeader } from '@fastify/jwt'
import { KeyObject, type webcrypto } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InsufficientScope, InvalidRequest, InvalidToken, OAuthError } from '../../errors.js'
import { SIGNING_ALGS } from '../../config/defaults.js'
import { ACCESS_TOKEN_TYP } from '../../domain/tokens.js'
import { ADMIN_SCOPE } from '../../schemas/admin.js'
import { publicIssuer } from '../../http/public_issuer.js'

export interface AdminPrincipal {
  /** The acting admin's `sub` (user id, or client id for client_credentials tokens). */
  sub: string
  clientId: string
}

declare module 'fastify' {
  interface FastifyRequest {
    admin: AdminPrincipal | null
  }
}

interface DecodedToken { header: { kid?: string, alg?: string, typ?: string }, payload: Record<string, unknown> }

function challenge (error?: string, description?: string, scope?: string): Record<string, string> {
  const params = ['realm="stamp"']
  if (error) params.push(`error="${error}"`)
  if (description) params.push(`error_description="${description}"`)
  if (scope) params.push(`scope="${scope}"`)
  return { 'www-authenticate': `Bearer ${params.join(', ')}` }
}

function invalidToken (description: string, detail?: string) {
  return new InvalidToken(description, { detail, headers: challenge('invalid_token', description) })
}

/** Registers @fastify/jwt in the admin scope and adds the onRequest hook that guards every route. */
export async function adminAuth (app: FastifyInstance): Promise<void> {
  // fast-jwt takes PEM; the keyring holds WebCrypto keys. Converted once per kid.
  const pems = new Map<string, string>()
  const pemFor = (kid: string, key: object): string => {
    let pem = pems.get(kid)
    if (!pem) {
      pem = KeyObject.from(key as webcrypto.CryptoKey).export({ type: 'spki', format: 'pem' }).toString()
      pems.set(kid, pem)
    }
    return pem
  }

  await app.register(jwt, {
    secret: async (_request: FastifyRequest, token: TokenOrHeader) => {
      const header = 'header' in token ? token.header : token
      const kid = header.kid
      const entry = typeof kid === 'string' ? app.keyring.verificationKey(kid) : undefined
      if (!entry || entry.alg !== header.alg) throw new Error('unknown signing key')
      return pemFor(kid!, entry.key)
    },
    decode: { complete: true },
    verify: {
      algorithms: [...SIGNING_ALGS],
      allowedIss: app.config.issuer,
      allowedAud: app.config.issuer,
      requiredClaims: ['sub', 'exp', 'iat', 'client_id'],
      complete: true,
    },
  })

  app.decorateRequest('admin', null)

  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    if (header === undefined) throw new InvalidToken('an admin access token is required', { headers: challenge() })
    // The token's subject once its signature held (an unverified `sub` is anyone's word).
    const verifiedSub: { sub?: string } = {}
    try {
      request.admin = await authenticateAdmin(request, header, verifiedSub)
    } catch (err) {
      if (err instanceof OAuthError) {
        await app.audit.record({ type: 'admin_token_rejected', actor: verifiedSub.sub, ip: request.ip, detail: { error: err.error, reason: err.description, method: request.method, route: request.routeOptions.url } })
      }
      throw err
    }
  })

  async function authenticateAdmin (request: FastifyRequest, header: string, verifiedSub: { sub?: string }): Promise<AdminPrincipal> {
    if (!/^Bearer [A-Za-z0-9._~+/-]+=*$/.test(header)) {
      throw new InvalidRequest('the Authorization header must be "Bearer <access token>"', { headers: challenge('invalid_request') })
    }
    let verified: DecodedToken
    try {
      // Without ISSUER behind a trusted proxy, tokens carry this request's public issuer
      // (http/public_issuer.ts): pin `iss` and `aud` to it rather than to the default issuer.
      const issuer = app.config.issuerFromProxy ? publicIssuer(request) : undefined
      verified = await (issuer === undefined ? request.jwtVerify<DecodedToken>() : request.jwtVerify<DecodedToken>({ allowedIss: issuer, allowedAud: issuer }))
    } catch (err) {
      throw invalidToken('the access token is invalid or expired', (err as { code?: string }).code)
    }
    const { header: protectedHeader, payload } = verified
    // RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt".
    if (protectedHeader.typ?.toLowerCase() !== ACCESS_TOKEN_TYP && protectedHeader.typ?.toLowerCase() !== `application/${ACCESS_TOKEN_TYP}`) {
      throw invalidToken('the token is not an access token')
    }
    verifiedSub.sub = String(payload.sub)
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : []
    if (!scopes.includes(ADMIN_SCOPE)) {
      throw new InsufficientScope(`the ${ADMIN_SCOPE} scope is required`, { headers: challenge('insufficient_scope', `the ${ADMIN_SCOPE} scope is required`, ADMIN_SCOPE) })
    }
    const sub = String(payload.sub)
    const clientId = String(payload.client_id)
    // The token's client must still exist, be enabled and hold stamp:admin, whoever the subject
    // is: a token obtained (or refreshed) through a client that lost the scope is refused.
    const client = await app.clientCache.find(clientId)
    if (!client?.scopes.includes(ADMIN_SCOPE)) throw invalidToken('the token\'s client is no longer an administrator')
    if (sub !== clientId) {
      const user = await app.usersRepository.findById(sub)
      if (!user || user.disabled || !user.scopes.includes(ADMIN_SCOPE)) throw invalidToken('the token\'s user is no longer an administrator')
    }
    return { sub, clientId }
  }
}
