/**
 * Repository interfaces, one per concern. Domain code and routes depend on these; only
 * `storage/prisma/` knows about Prisma.
 *
 * @module
 */
import type { JWK } from 'jose'
import type { KeyStatus } from '../domain/keys.js'

export interface ClientRecord {
  id: string
  name: string
  secretHash: string | null
  public: boolean
  firstParty: boolean
  grantTypes: string[]
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  backchannelLogoutUri: string | null
  scopes: string[]
  audiences: string[]
  /** PKCE (RFC 7636) required at /authorize even when the client is confidential (public clients always need it). */
  requirePkce: boolean
  /** How the client came to be (absent on create: admin). */
  origin?: ClientOrigin
  /** Last token issued to it (recorded at most once per hour). */
  lastUsedAt?: Date | null
  /** Set when an operator revoked it: refused everywhere. */
  revokedAt?: Date | null
  /** SHA-256 of the RFC 7592 registration access token (dcr clients). */
  registrationTokenHash?: string | null
  /** Registered metadata echoed by RFC 7591/7592 (client_uri, logo_uri, token_endpoint_auth_method…). */
  metadata?: Record<string, unknown> | null
  createdAt?: Date
}

/** admin: API or CLI; dcr: RFC 7591 /register; cimd: a client ID metadata document. */
export type ClientOrigin = 'admin' | 'dcr' | 'cimd'

/** One page of a list ordered by a unique key: rows after `cursor`, at most `limit`. */
export interface Page { limit: number, cursor?: string }

export type ClientPatch = Partial<Omit<ClientRecord, 'id'>>

export interface ClientStore {
  find(id: string): Promise<ClientRecord | null>
  create(client: ClientRecord): Promise<void>
  /** Ordered by id. */
  list(page: Page): Promise<ClientRecord[]>
  /** Null when there is no such client. */
  update(id: string, patch: ClientPatch): Promise<ClientRecord | null>
  /** False when there was no such client. */
  delete(id: string): Promise<boolean>
  /** Ordered by id, only clients of these origins (all when empty). */
  listByOrigin(origins: readonly ClientOrigin[], page: Page): Promise<ClientRecord[]>
  /**
   * Records a token issuance, unless one was recorded less than `minIntervalMs` before `now`:
   * `first` when the client had never been used, `updated`, or `skipped`.
   */
  touchLastUsed(id: string, now: Date, minIntervalMs: number): Promise<'first' | 'updated' | 'skipped'>
  /**
   * Deletes clients of these origins not used (nor, never used, created) since `before`, with
   * their refresh tokens and consents, in one transaction; returns their ids.
   */
  purgeUnused(origins: readonly ClientOrigin[], before: Date): Promise<string[]>
}

export interface RegistrationTokenRecord {
  id: string
  tokenHash: string
  maxUses: number | null
  uses: number
  expiresAt: Date | null
}

/** RFC 7591 §3 initial access tokens, stored as SHA-256. */
export interface RegistrationTokenStore {
  create(token: Omit<RegistrationTokenRecord, 'uses'>): Promise<void>
  /** Atomically counts one use of a live token; its id, or null when unknown, expired or used up. */
  use(tokenHash: string, now: Date): Promise<string | null>
}

export interface UserRecord {
  id: string
  username: string
  email: string | null
  passwordHash: string
  disabled: boolean
  scopes: string[]
}

export type UserPatch = Partial<Pick<UserRecord, 'email' | 'disabled' | 'scopes'>>

export interface UserStore {
  findByUsername(username: string): Promise<UserRecord | null>
  findById(id: string): Promise<UserRecord | null>
  create(user: Omit<UserRecord, 'id' | 'disabled'>): Promise<UserRecord>
  updatePasswordHash(id: string, passwordHash: string): Promise<void>
  /** Ordered by username; the cursor is the last username seen. */
  list(page: Page): Promise<UserRecord[]>
  /** Null when there is no such user. */
  update(id: string, patch: UserPatch): Promise<UserRecord | null>
}

export interface RefreshTokenRecord {
  jti: string
  familyId: string
  userId: string | null
  clientId: string
  scope: string
  audience: string[]
  kid: string
  sessionId: string | null
  expiresAt: Date
  createdAt: Date
  consumedAt: Date | null
  revokedAt: Date | null
}

export type NewRefreshToken = Omit<RefreshTokenRecord, 'createdAt' | 'consumedAt' | 'revokedAt'>

export type RotationOutcome =
  | { outcome: 'rotated' }
  /** The presented token was already consumed (or revoked): reuse. */
  | { outcome: 'reused', record: RefreshTokenRecord }
  | { outcome: 'unknown' }

export interface RefreshTokenStore {
  find(jti: string): Promise<RefreshTokenRecord | null>
  create(token: NewRefreshToken): Promise<void>
  /**
   * The refresh grant's hot path in one round trip: the token with its user's state and, when the
   * token is live, issued to `clientId`, covers `resources` and its user is active, atomically
   * consumed with `successor` stored in its place (family, user, scope, audience and session
   * inherited). Null when the token is unknown. `rotated: false` leaves the token untouched.
   */
  exchange(request: RefreshExchange): Promise<{ record: RefreshTokenRecord & { userActive: boolean }, rotated: boolean } | null>
  /**
   * Atomically consumes `jti` and stores `successor` (one transaction). When the token was consumed
   * less than `graceSeconds` ago by the same client, the successor is stored all the same. The
   * refresh grant's path when `exchange` did not rotate: it reads the state under the row lock.
   */
  rotate(jti: string, successor: NewRefreshToken, now: Date, graceSeconds: number): Promise<RotationOutcome>
  revokeFamily(familyId: string, now: Date): Promise<number>
  revokeByKid(kid: string, now: Date): Promise<number>
  /** Families of a user or of a client, ordered by family id; the cursor is the last family id. */
  listFamilies(filter: { userId?: string, clientId?: string }, page: Page, now: Date): Promise<RefreshFamily[]>
  findFamily(familyId: string, now: Date): Promise<RefreshFamily | null>
  /** "Sign out everywhere": revokes every family of the user; returns the number of families. */
  revokeUserFamilies(userId: string, now: Date): Promise<number>
  /** Revokes every family of a client (client deleted or its secret compromised). */
  revokeClientFamilies(clientId: string, now: Date): Promise<number>
}

export interface RefreshExchange {
  jti: string
  clientId: string
  /** RFC 8707 resources the new access token is for; all must be in the token's audience. */
  resources?: string[]
  successor: { jti: string, kid: string, expiresAt: Date }
  now: Date
}

/** A refresh-token family: one login's chain of rotated refresh tokens. */
export interface RefreshFamily {
  familyId: string
  userId: string | null
  clientId: string
  scope: string
  /** When the family started (the login). */
  createdAt: Date
  /** When its newest token was issued (the last refresh). */
  lastUsedAt: Date
  expiresAt: Date
  /** True while some token of the family can still be used. */
  active: boolean
  revokedAt: Date | null
}

export interface AuditEventInput {
  type: string
  actor?: string | null
  subject?: string | null
  clientId?: string | null
  ip?: string | null
  detail?: Record<string, unknown> | null
}

export interface AuditEventRecord extends Required<AuditEventInput> {
  id: string
  createdAt: Date
}

export interface AuditStore {
  append(event: AuditEventInput): Promise<void>
  /** Newest first; the cursor is the last id seen (events older than it). */
  list(page: Page & { type?: string }): Promise<AuditEventRecord[]>
}

export interface StoredKey {
  kid: string
  alg: string
  status: KeyStatus
  publicJwk: JWK
  privateKeyEnc: string | null
  kekId: string | null
  createdAt: Date
  activatedAt: Date | null
  retiringAt: Date | null
  retireAfter: Date | null
  retiredAt: Date | null
}

export type KeyPatch = Partial<Pick<StoredKey, 'status' | 'privateKeyEnc' | 'kekId' | 'activatedAt' | 'retiringAt' | 'retireAfter' | 'retiredAt'>>

/** What a key-lifecycle step may do inside its transaction, under the key lock. */
export interface KeyTransaction {
  all(): Promise<StoredKey[]>
  insert(key: Omit<StoredKey, 'retiringAt' | 'retireAfter' | 'retiredAt'>): Promise<void>
  update(kid: string, patch: KeyPatch): Promise<void>
  revokeRefreshTokensSignedBy(kid: string, now: Date): Promise<number>
}

export interface KeyStore {
  /** Keys that belong in the JWKS (next, active, retiring). */
  published(): Promise<StoredKey[]>
  all(): Promise<StoredKey[]>
  /**
   * Runs `step` in one transaction holding a cluster-wide lock, so no two instances ever change
   * keys at once. With `tryOnly`, returns undefined instead of waiting when another holds it.
   */
  locked<T>(step: (tx: KeyTransaction) => Promise<T>, options?: { tryOnly?: boolean }): Promise<T | undefined>
}

/** A single sign-on session (the OIDC `sid` is `id`; the cookie secret is stored only as `tokenHash`). */
export interface SessionRecord {
  id: string
  tokenHash: string
  userId: string
  authTime: Date
  clientIds: string[]
  createdAt: Date
  expiresAt: Date
  endedAt: Date | null
}

export interface SessionStore {
  create(session: Omit<SessionRecord, 'clientIds' | 'createdAt' | 'endedAt'>): Promise<SessionRecord>
  /** The live session whose cookie secret hashes to `tokenHash` (not ended, not expired). */
  findActiveByTokenHash(tokenHash: string, now: Date): Promise<SessionRecord | null>
  find(id: string): Promise<SessionRecord | null>
  /**
   * Records a re-authentication of the same user: new `authTime`, and a new cookie secret
   * (`tokenHash`), so a cookie copied before the sign-in no longer names the session.
   */
  reauthenticate(id: string, tokenHash: string, authTime: Date): Promise<void>
  /** Adds a client to the session's participants (idempotent). */
  addClient(id: string, clientId: string): Promise<void>
  /**
   * Ends the session and revokes every refresh-token family bound to it, in one transaction.
   * Returns the session as it was, or null when it was already ended (so logout runs once).
   */
  end(id: string, now: Date): Promise<{ session: SessionRecord, refreshFamiliesRevoked: number } | null>
  /** A user's live sessions (not ended, not expired), oldest first; the cursor is the last id seen. */
  listActiveForUser(userId: string, page: Page, now: Date): Promise<SessionRecord[]>
  /**
   * Whether the session has ended (true also when there is no such session). Waits for an `end`
   * in progress to commit, so a refresh token stored before this returned false is seen by the
   * revocation of any later `end`.
   */
  hasEnded(id: string): Promise<boolean>
}

/** An authorization request parked while the user signs in or consents. */
export interface PendingAuthorizationRecord {
  id: string
  browserHash: string
  clientId: string
  redirectUri: string
  /** Whether the request named redirect_uri (RFC 6749 §4.1.3). */
  redirectUriSent: boolean
  scope: string
  state: string | null
  nonce: string | null
  codeChallenge: string | null
  codeChallengeMethod: string | null
  prompt: string[]
  maxAge: number | null
  loginHint: string | null
  sessionId: string | null
  expiresAt: Date
}

export interface PendingAuthorizationStore {
  create(request: PendingAuthorizationRecord): Promise<void>
  /** The unexpired request with this id. */
  find(id: string, now: Date): Promise<PendingAuthorizationRecord | null>
  /** Marks that the user signed in (session `sessionId`) for this request. */
  authenticated(id: string, sessionId: string): Promise<void>
  /** Deletes the request; true only for the one caller that deleted it (single completion). */
  take(id: string): Promise<boolean>
  /** Binds this browser's parked requests to its new binding secret (rotated at sign-in). */
  rebind(browserHash: string, newBrowserHash: string): Promise<void>
  /** Removes expired requests; returns how many. */
  purgeExpired(now: Date): Promise<number>
}

export interface AuthorizationCodeRecord {
  codeHash: string
  clientId: string
  userId: string
  sessionId: string
  redirectUri: string
  /** Whether the authorization request named redirect_uri (RFC 6749 §4.1.3: then /token must repeat it). */
  redirectUriSent: boolean
  scope: string
  nonce: string | null
  codeChallenge: string | null
  codeChallengeMethod: string | null
  authTime: Date
  familyId: string
  expiresAt: Date
  consumedAt: Date | null
  reusedAt: Date | null
}

export type NewAuthorizationCode = Omit<AuthorizationCodeRecord, 'consumedAt' | 'reusedAt'>

export interface AuthorizationCodeStore {
  create(code: NewAuthorizationCode): Promise<void>
  find(codeHash: string): Promise<AuthorizationCodeRecord | null>
  /** Atomically marks the code consumed; true only for the single caller that consumed it. */
  consume(codeHash: string, now: Date): Promise<boolean>
  /** Records that the code was presented again after it was consumed. */
  markReused(codeHash: string, now: Date): Promise<void>
  /** Whether a replay was recorded (checked by the winning exchange after it stored its tokens). */
  wasReused(codeHash: string): Promise<boolean>
  purgeExpired(before: Date): Promise<number>
}

export interface ConsentStore {
  /** Scopes the user already approved for the client (empty when none). */
  granted(userId: string, clientId: string): Promise<string[]>
  /** Adds `scopes` to what the user approved for the client. */
  grant(userId: string, clientId: string, scopes: string[]): Promise<void>
  /** Forgets the decision; true when there was one. */
  revoke(userId: string, clientId: string): Promise<boolean>
}
