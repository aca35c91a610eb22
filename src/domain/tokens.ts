/**
 * Token minting: RFC 9068 JWT access tokens and Stamp's JWT refresh tokens.
 *
 * Both are signed by the keyring's active key. The `typ` header tells them apart (RFC 8725 §3.11),
 * so no verifier that checks `typ` can take a refresh token for an access token.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import { SignJWT, compactVerify, jwtVerify, type JWTPayload } from 'jose'
import type { Keyring } from './keyring.js'

/** RFC 9068 §2.1 */
export const ACCESS_TOKEN_TYP = 'at+jwt'
export const REFRESH_TOKEN_TYP = 'rt+jwt'
/**
 * The audience of every refresh token: a URN no resource can have (client audiences and RFC 8707
 * `resource` values refuse it), so a verifier that ignores `typ` still refuses a refresh token
 * whatever audience it pins. Refresh tokens are only ever presented back to Stamp.
 */
export const REFRESH_TOKEN_AUDIENCE = 'urn:stamp:refresh-token'
/** OIDC Core §2 ID Tokens carry the generic JWT type. */
export const ID_TOKEN_TYP = 'JWT'
/** OIDC Back-Channel Logout 1.0 §2.4 */
export const LOGOUT_TOKEN_TYP = 'logout+jwt'
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/**
 * Audiences a presented refresh token may carry. TODO(v2): drop the issuer, the audience of refresh
 * tokens issued before REFRESH_TOKEN_AUDIENCE (they expire within REFRESH_TOKEN_TTL of an upgrade;
 * accepting them at Stamp is safe, since `typ` tells them apart here).
 */
const REFRESH_AUDIENCES_ACCEPTED = (issuer: string): string[] => [REFRESH_TOKEN_AUDIENCE, issuer]

/** Lifetime of a logout token: it is delivered at once, so two minutes is plenty. */
const LOGOUT_TOKEN_TTL = 120

export interface AccessTokenClaims {
  sub: string
  clientId: string
  scope: string
  audience: string[]
  /** Seconds since the epoch when the user authenticated, when there is a user. */
  authTime?: number
  sid?: string
  /** The authentication context class reached (OIDC Core §2; RFC 9470 §3 for access tokens). */
  acr?: string
  /** RFC 8693 §4.1 actor claim (token exchange): the current actor, prior actors nested inside. */
  act?: Record<string, unknown>
  /** Seconds since the epoch; the token expires then if sooner than the usual lifetime (token exchange). */
  notAfter?: number
  /** RFC 9449 §6.1: the JWK thumbprint of the DPoP key the token is bound to (`cnf.jkt`). */
  jkt?: string
}

export interface RefreshTokenClaims {
  jti: string
  sub: string
  clientId: string
  scope: string
  /** Seconds since the epoch; default `iat` + the refresh-token TTL (the family's end may come first). */
  exp?: number
  /**
   * The token's family (`fid`): retention deletes a consumed token's row, and a replay of it must
   * still revoke the family it came from (RFC 9700 §4.14.2).
   */
  familyId?: string
  /** RFC 9449 §5: a public client's refresh token is bound to its DPoP key (`cnf.jkt`). */
  jkt?: string
  /**
   * The browser session the family was issued in (`sid`, as in the ID Token, OIDC Front-Channel
   * Logout §3): the refresh grant then knows, before reading the row, whether the session must be
   * checked.
   */
  sessionId?: string
}

export interface IdTokenClaims {
  sub: string
  clientId: string
  /** Seconds since the epoch. */
  authTime: number
  sid: string
  nonce?: string
  /** RFC 8176 method references (omitted when empty) and the class reached. */
  amr?: string[]
  acr?: string
  /** The access token issued alongside, for `at_hash` (OIDC Core §3.1.3.6). */
  accessToken?: string
  /** Scope-dependent user claims (profile, email). */
  claims?: Record<string, unknown>
}

export interface LogoutTokenClaims {
  sub: string
  clientId: string
  sid: string
}

/**
 * OIDC Core §3.1.3.6: "the left-most half of the hash of the octets of the ASCII representation of
 * the access_token value, where the hash algorithm used is the hash algorithm used in the alg
 * Header Parameter of the ID Token's JOSE Header" (SHA-512 for Ed25519).
 */
export function atHash (accessToken: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken, 'ascii').digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
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
    if (claims.acr !== undefined) payload.acr = claims.acr
    if (claims.act !== undefined) payload.act = claims.act
    if (claims.jkt !== undefined) payload.cnf = { jkt: claims.jkt }
    const ttl = claims.notAfter === undefined ? this.accessTokenTTL : Math.min(this.accessTokenTTL, claims.notAfter - Math.floor(now / 1000))
    return this.#sign(payload, ACCESS_TOKEN_TYP, claims.sub, claims.audience, randomUUID(), now, ttl)
  }

  /**
   * The same claims and key give the same string: RS256 (RSASSA-PKCS1-v1_5) signatures are
   * deterministic, which is what lets a retried refresh hand out its successor again. After a key
   * rotation the string differs, but it names the same row (`jti`): still one live token.
   */
  async refreshToken (claims: RefreshTokenClaims, now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000)
    const ttl = claims.exp === undefined ? this.refreshTokenTTL : claims.exp - iat
    const payload: JWTPayload = { client_id: claims.clientId, scope: claims.scope }
    if (claims.familyId !== undefined) payload.fid = claims.familyId
    if (claims.jkt !== undefined) payload.cnf = { jkt: claims.jkt }
    if (claims.sessionId !== undefined) payload.sid = claims.sessionId
    return this.#sign(payload, REFRESH_TOKEN_TYP, claims.sub, [REFRESH_TOKEN_AUDIENCE], claims.jti, now, ttl)
  }

  /**
   * OIDC Core §2 ID Token: iss, sub, aud (the client), exp, iat, auth_time, nonce, at_hash, sid.
   * It lives as long as the access token it accompanies.
   */
  async idToken (claims: IdTokenClaims, now = Date.now()): Promise<string> {
    const { alg } = this.#keyring.signingKey()
    const payload: JWTPayload = { ...claims.claims, auth_time: claims.authTime, sid: claims.sid }
    if (claims.nonce !== undefined) payload.nonce = claims.nonce
    if (claims.amr?.length) payload.amr = claims.amr
    if (claims.acr !== undefined) payload.acr = claims.acr
    if (claims.accessToken !== undefined) payload.at_hash = atHash(claims.accessToken, alg)
    return this.#sign(payload, ID_TOKEN_TYP, claims.sub, [claims.clientId], randomUUID(), now, this.accessTokenTTL)
  }

  /**
   * OIDC Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti, events, sub and sid, and
   * "A nonce Claim MUST NOT be present".
   */
  async logoutToken (claims: LogoutTokenClaims, now = Date.now()): Promise<string> {
    const payload: JWTPayload = { events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, sid: claims.sid }
    return this.#sign(payload, LOGOUT_TOKEN_TYP, claims.sub, [claims.clientId], randomUUID(), now, LOGOUT_TOKEN_TTL)
  }

  /**
   * Checks an `id_token_hint` (OIDC RP-Initiated Logout 1.0 §2): signed by one of Stamp's published
   * keys and issued by Stamp. Expiry is deliberately not checked: "The OP SHOULD accept ID Tokens
   * when the RP identified by the ID Token's aud claim ... has a current session ... even when the
   * exp time has passed."
   */
  async verifyIdTokenHint (token: string): Promise<JWTPayload | null> {
    try {
      const { payload, protectedHeader } = await compactVerify(token, async (header) => {
        const entry = header.kid ? this.#keyring.verificationKey(header.kid) : undefined
        if (!entry || entry.alg !== header.alg) throw new Error('unknown key')
        return entry.key
      }, { algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] })
      if (protectedHeader.typ !== undefined && protectedHeader.typ !== ID_TOKEN_TYP) return null
      const claims = JSON.parse(new TextDecoder().decode(payload)) as JWTPayload
      return claims.iss === this.#issuer ? claims : null
    } catch {
      return null
    }
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
      }, { issuer: this.#issuer, typ, audience: typ === REFRESH_TOKEN_TYP ? REFRESH_AUDIENCES_ACCEPTED(this.#issuer) : undefined, algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] })
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
