/**
 * Token minting: RFC 9068 JWT access tokens and Stamp's JWT refresh tokens.
 *
 * Both are signed by the keyring's active key. The `typ` header tells them apart (RFC 8725 §3.11),
 * so no verifier that checks `typ` can take a refresh token for an access token.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { SignJWT, jwtVerify, type JWTPayload } from 'jose'
import type { Keyring } from './keyring.js'

/** RFC 9068 §2.1 */
export const ACCESS_TOKEN_TYP = 'at+jwt'
export const REFRESH_TOKEN_TYP = 'rt+jwt'

export interface AccessTokenClaims {
  sub: string
  clientId: string
  scope: string
  audience: string[]
  /** Seconds since the epoch when the user authenticated, when there is a user. */
  authTime?: number
  sid?: string
}

export interface RefreshTokenClaims {
  jti: string
  sub: string
  clientId: string
  scope: string
}

export interface TokenMinterOptions {
  issuer: string
  keyring: Keyring
  accessTokenTTL: number
  refreshTokenTTL: number
}

export class TokenMinter {
  readonly #issuer: string
  readonly #keyring: Keyring
  readonly accessTokenTTL: number
  readonly refreshTokenTTL: number

  constructor (options: TokenMinterOptions) {
    this.#issuer = options.issuer
    this.#keyring = options.keyring
    this.accessTokenTTL = options.accessTokenTTL
    this.refreshTokenTTL = options.refreshTokenTTL
  }

  /** The same minter (same keyring and lifetimes) issuing and accepting tokens as `issuer`. */
  withIssuer (issuer: string): TokenMinter {
    if (issuer === this.#issuer) return this
    return new TokenMinter({ issuer, keyring: this.#keyring, accessTokenTTL: this.accessTokenTTL, refreshTokenTTL: this.refreshTokenTTL })
  }

  /** The kid that the next token will be signed with (stored beside refresh tokens). */
  get currentKid (): string {
    return this.#keyring.signingKey().kid
  }

  /** RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti (and scope, auth_time when known). */
  async accessToken (claims: AccessTokenClaims, now = Date.now()): Promise<string> {
    const payload: JWTPayload = { client_id: claims.clientId, scope: claims.scope }
    if (claims.authTime !== undefined) payload.auth_time = claims.authTime
    if (claims.sid !== undefined) payload.sid = claims.sid
    return this.#sign(payload, ACCESS_TOKEN_TYP, claims.sub, claims.audience, randomUUID(), now, this.accessTokenTTL)
  }

  async refreshToken (claims: RefreshTokenClaims, now = Date.now()): Promise<string> {
    // A refresh token is only ever presented back to Stamp, so Stamp is its audience.
    return this.#sign({ client_id: claims.clientId, scope: claims.scope }, REFRESH_TOKEN_TYP, claims.sub,
      [this.#issuer], claims.jti, now, this.refreshTokenTTL)
  }

  /**
   * Verifies a token Stamp issued (signature with a published key, issuer, expiry, `typ`).
   * Returns null instead of throwing: callers answer invalid_grant / active:false.
   */
  async verifyOwn (token: string, typ: string): Promise<JWTPayload | null> {
    try {
      const { payload } = await jwtVerify(token, async (header) => {
        const entry = header.kid ? this.#keyring.verificationKey(header.kid) : undefined
        if (!entry || entry.alg !== header.alg) throw new Error('unknown key')
        return entry.key
      }, { issuer: this.#issuer, typ, audience: typ === REFRESH_TOKEN_TYP ? this.#issuer : undefined, algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] })
      return payload
    } catch {
      return null
    }
  }

  async #sign (payload: JWTPayload, typ: string, sub: string, audience: string[], jti: string, now: number, ttl: number): Promise<string> {
    const { kid, alg, key } = this.#keyring.signingKey()
    const iat = Math.floor(now / 1000)
    return new SignJWT(payload)
      .setProtectedHeader({ alg, kid, typ })
      .setIssuer(this.#issuer)
      .setSubject(sub)
      .setAudience(audience.length === 1 ? audience[0] : audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(jti)
      .sign(key)
  }
}
