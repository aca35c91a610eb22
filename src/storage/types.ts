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
  /** Users signing in to this client need a second factor (absent: false). */
  requireMfa?: boolean
  /** Refused everywhere while true (absent on records built before the column existed: false). */
  disabled?: boolean
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof (absent: false). */
  dpopBoundAccessTokens?: boolean
  /**
   * Refresh-token rotation (RFC 9700 §4.14.2): null or absent follows the profile (on; off for
   * fapi2, FAPI 2.0 Security Profile §5.3.2.1). False: the refresh token is not rotated.
   */
  refreshTokenRotation?: boolean | null
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
  /** RFC 8693: audiences this client may exchange tokens for (absent: none). */
  exchangeAudiences?: string[]
  createdAt?: Date
  /** Set when not implied by the secret: `private_key_jwt` (RFC 7523 §2.2; no secret then). */
  tokenEndpointAuthMethod?: string | null
  /** Public keys the client signs with (client assertions, request objects). */
  jwks?: { keys: JWK[] } | null
  /** Or where Stamp fetches them. */
  jwksUri?: string | null
  /** OIDC Dynamic Client Registration §2: the one algorithm its client assertions may be signed with (null or absent: any accepted). */
  tokenEndpointAuthSigningAlg?: string | null
  /** The same for its request objects (RFC 9101), `request_object_signing_alg`. */
  requestObjectSigningAlg?: string | null
  /** RFC 9126 §6: authorization requests must be pushed to /par first. */
  requirePushedAuthorizationRequests?: boolean
  /** A security profile the client is held to (`fapi2`), or null. */
  profile?: string | null
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
  /**
   * Ordered by id, only clients of these origins (all when empty); with `query`, only those whose
   * id or name contains it (case-insensitive).
   */
  listByOrigin(origins: readonly ClientOrigin[], page: Page & { query?: string }): Promise<ClientRecord[]>
  /** How many clients there are, per origin. */
  countByOrigin(): Promise<Record<ClientOrigin, number>>
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
  /** An administrator requires a second factor for this user (absent on records built before it existed: false). */
  mfaRequired?: boolean
  /** When the user proved they receive mail at `email`; null: never (or the email changed since). */
  emailVerifiedAt?: Date | null
  /** Self-registered and not yet verified: may not sign in. */
  verificationPending?: boolean
}

/** Changing `email` clears `emailVerifiedAt` (the new address is not proven). */
export type UserPatch = Partial<Pick<UserRecord, 'email' | 'disabled' | 'scopes' | 'mfaRequired'>>

/** How usernames are stored and compared (domain/usernames.ts), handed to the user store. */
export interface UsernameForms {
  /** The form stored and shown. */
  display(username: string): string
  /** The form uniqueness and sign-in compare. */
  key(username: string): string
}

export interface UserStore {
  /** By comparison key (see UsernameForms): any case or normalization form of the name. */
  findByUsername(username: string): Promise<UserRecord | null>
  /** The user with this id; null when there is none, also for an id that is not a UUID (never a cast error). */
  findById(id: string): Promise<UserRecord | null>
  create(user: Omit<UserRecord, 'id' | 'disabled'>): Promise<UserRecord>
  updatePasswordHash(id: string, passwordHash: string): Promise<void>
  /** Users whose email is `email`, compared without case (a reset request names an address). */
  findByEmail(email: string): Promise<UserRecord[]>
  /**
   * Ordered by username; the cursor is the last username seen. With `query`, only users whose
   * username or email contains it (case-insensitive).
   */
  list(page: Page & { query?: string }): Promise<UserRecord[]>
  /** How many users there are, and how many of them are disabled. */
  count(): Promise<{ total: number, disabled: number }>
  /** Null when there is no such user. */
  update(id: string, patch: UserPatch): Promise<UserRecord | null>
  /**
   * Keys rows that have no comparison key yet (migrated non-ASCII usernames); `clashes` are the
   * ids whose key another user already holds (they keep signing in by exact name).
   */
  keyUnkeyedUsernames(): Promise<{ keyed: number, clashes: string[] }>
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
  /**
   * How the user authenticated for the family: set when the family starts, copied to every
   * successor, never changed (OIDC Core §12.2: `auth_time` is the original authentication's).
   * Null/empty for tokens without a user, and for families started before these were stored.
   */
  authTime: Date | null
  acr: string | null
  amr: string[]
}

export type NewRefreshToken = Omit<RefreshTokenRecord, 'createdAt' | 'consumedAt' | 'revokedAt'>

export interface RefreshTokenStore {
  find(jti: string): Promise<RefreshTokenRecord | null>
  create(token: NewRefreshToken): Promise<void>
  /**
   * The refresh grant's hot path in one round trip: the token with what decides whether it may
   * still be used (user and client state, the scope they and the consent allow now, the family's
   * end, the successor of an earlier consumption) and, when the token is live, issued to
   * `clientId`, covers `resources`, its user and client are active, some scope is left and the
   * family has not ended, atomically consumed with `successor` stored in its place (family, user,
   * audience, session inherited; scope narrowed; expiry capped at the family's end). Null when the
   * token is unknown. `rotated: false` leaves the token untouched.
   */
  exchange(request: RefreshExchange): Promise<RefreshExchangeResult | null>
  /**
   * The refresh grant without rotation (a client with `refreshTokenRotation: false`): the same
   * facts as {@link exchange} for the token, which is not consumed (`rotated` is always false);
   * when something of its scope was taken away, the narrower scope is stored on it. Null when unknown.
   */
  use(request: RefreshUse): Promise<RefreshExchangeResult | null>
  revokeFamily(familyId: string, now: Date): Promise<number>
  revokeByKid(kid: string, now: Date): Promise<number>
  /** Families of a user or of a client, ordered by family id; the cursor is the last family id. */
  listFamilies(filter: { userId?: string, clientId?: string }, page: Page, now: Date): Promise<RefreshFamily[]>
  findFamily(familyId: string, now: Date): Promise<RefreshFamily | null>
  /** "Sign out everywhere": revokes every family of the user; returns the number of families. */
  revokeUserFamilies(userId: string, now: Date): Promise<number>
  /** Revokes every family of a client (client deleted or its secret compromised). */
  revokeClientFamilies(clientId: string, now: Date): Promise<number>
  /**
   * Revokes the live families of a user and/or client, only those whose scope holds one of `scopes`
   * when given (a privilege taken away); returns the number of families.
   */
  revokeFamilies(filter: { userId?: string, clientId?: string, scopes?: string[] }, now: Date): Promise<number>
  /**
   * Revokes the family when it still has a live token (unconsumed, unrevoked, unexpired): reuse of
   * a token whose row retention already deleted. Returns the rows revoked (0: nothing was live).
   */
  revokeLiveFamily(familyId: string, now: Date): Promise<number>
}

export interface RefreshExchangeResult {
  record: RefreshTokenRecord & { userActive: boolean }
  /** The token's client exists and is not disabled. */
  clientActive: boolean
  /** The token is bound to no browser session, or to one that has not ended (logout, sign-out everywhere, password reset). */
  sessionActive: boolean
  /** The token's scope as its client, user and (third-party client) consent allow it now; '' when nothing is left. */
  grantedScope: string
  /** Family start + REFRESH_FAMILY_MAX_AGE has passed: no token of the family lives past it. */
  familyEnded: boolean
  rotated: boolean
  /** When rotated: the successor as stored (narrowed scope, capped expiry). */
  issued: { scope: string, expiresAt: Date } | null
  /** When the token was consumed already: the successor that consumption issued (a retry gets it again). */
  successor: { jti: string, kid: string, scope: string, expiresAt: Date, live: boolean } | null
}

export interface RefreshExchange {
  jti: string
  clientId: string
  /** RFC 8707 resources the new access token is for; all must be in the token's audience. */
  resources?: string[]
  /** `expiresAt` in whole seconds: it is the successor's JWT `exp`, so a retry can sign it again. */
  successor: { jti: string, kid: string, expiresAt: Date }
  now: Date
  /** REFRESH_FAMILY_MAX_AGE, seconds. */
  familyMaxAge: number
  /** Scopes every user may grant (they need not be in the user's allow-list). */
  userBaselineScopes: readonly string[]
  /**
   * The client is first-party as far as the caller knows (a cached record): a hint that selects a
   * cheaper statement, never a grant. The store still reads the client's current flag.
   */
  firstParty?: boolean
  /**
   * What the presented token's signed claims say about its row. The store may use them to check
   * less and return less, never to grant: a claim that does not match the row makes it read the row.
   */
  presented?: RefreshPresented
}

/** {@link RefreshExchange.presented}: the refresh token's `scope`, `sub` and `sid` claims. */
export interface RefreshPresented {
  scope: string
  /** The user's id (`sub`). */
  subject: string
  /** The browser session (`sid`); absent when the token names none. */
  sessionId?: string
}

/** {@link RefreshTokenStore.use}: an exchange without a successor. */
export type RefreshUse = Omit<RefreshExchange, 'successor' | 'resources' | 'presented'>

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

/** Audit trail filters; all given ones must match. `since` inclusive, `until` exclusive. */
export interface AuditFilter {
  type?: string
  actor?: string
  subject?: string
  since?: Date
  until?: Date
}

export interface AuditStore {
  append(event: AuditEventInput): Promise<void>
  /** Newest first; the cursor is the last id seen (events older than it). */
  list(page: Page & AuditFilter): Promise<AuditEventRecord[]>
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

export type KeyPatch = Partial<Pick<StoredKey, 'status' | 'privateKeyEnc' | 'kekId' | 'activatedAt' | 'retiringAt' | 'retireAfter' | 'retiredAt' | 'createdAt'>>

/** What a key-lifecycle step may do inside its transaction, under the key lock. */
/** A value sealed with the KEK other than a signing key (domain/sealed_values.ts names each). */
export interface SealedValue {
  kind: 'totp' | 'idp_credential' | 'held_id_token' | 'upstream_session'
  /** The row's primary key. */
  id: string
  /** What the value's additional authenticated data is built from. */
  aadKey: string
  sealed: string
}

export interface KeyTransaction {
  all(): Promise<StoredKey[]>
  /** Every other KEK-sealed value, so that a rewrap re-seals them in the same transaction. */
  sealedValues(): Promise<SealedValue[]>
  reseal(value: SealedValue, sealed: string, kekId: string): Promise<void>
  insert(key: Omit<StoredKey, 'retiringAt' | 'retireAfter' | 'retiredAt'>): Promise<void>
  update(kid: string, patch: KeyPatch): Promise<void>
  revokeRefreshTokensSignedBy(kid: string, now: Date): Promise<number>
  /** PostgreSQL's clock, read on this transaction's connection. */
  databaseNow(): Promise<Date>
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
  /** PostgreSQL's clock (`clock_timestamp()`): the time every instance shares (see domain/clock_guard.ts). */
  databaseNow(): Promise<Date>
}

/** A single sign-on session (the OIDC `sid` is `id`; the cookie secret is stored only as `tokenHash`). */
export interface SessionRecord {
  id: string
  tokenHash: string
  userId: string
  authTime: Date
  /** RFC 8176 methods of the last authentication. */
  amr: string[]
  /** Class reached by it (domain/authentication_methods.ts); null on sessions from before it was recorded. */
  acr: string | null
  clientIds: string[]
  createdAt: Date
  expiresAt: Date
  endedAt: Date | null
}

export interface SessionStore {
  create(session: Omit<SessionRecord, 'clientIds' | 'createdAt' | 'endedAt' | 'amr' | 'acr'> & Partial<Pick<SessionRecord, 'amr' | 'acr'>>): Promise<SessionRecord>
  /** The live session whose cookie secret hashes to `tokenHash` (not ended, not expired). */
  findActiveByTokenHash(tokenHash: string, now: Date): Promise<SessionRecord | null>
  find(id: string): Promise<SessionRecord | null>
  /**
   * Records a re-authentication of the same user: new `authTime`, and a new cookie secret
   * (`tokenHash`), so a cookie copied before the sign-in no longer names the session.
   */
  reauthenticate(id: string, tokenHash: string, authTime: Date, amr: string[], acr: string): Promise<void>
  /** Adds a client to the session's participants (idempotent). */
  addClient(id: string, clientId: string): Promise<void>
  /**
   * Ends the session and revokes every refresh-token family bound to it, in one transaction.
   * Returns the session as it was, or null when it was already ended (so logout runs once).
   */
  end(id: string, now: Date): Promise<{ session: SessionRecord, refreshFamiliesRevoked: number } | null>
  /** A user's live sessions (not ended, not expired), oldest first; the cursor is the last id seen. */
  listActiveForUser(userId: string, page: Page, now: Date): Promise<SessionRecord[]>
  /** Every user's live sessions, by id; the cursor is the last id seen. */
  listActive(page: Page, now: Date): Promise<SessionRecord[]>
  /** How many sessions are live (not ended, not expired). */
  countActive(now: Date): Promise<number>
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
  /** OIDC Core §3.1.2.1 acr_values. */
  acrValues: string[]
  /** The user who passed the first factor and still owes the second (or an enrolment). */
  factorUserId: string | null
  factorAmr: string[]
  /** RFC 9449 §10 `dpop_jkt`: the code is bound to this JWK thumbprint (absent: not bound). */
  dpopJkt?: string | null
  sessionId: string | null
  expiresAt: Date
}

export interface PendingAuthorizationStore {
  /**
   * Stores the request and, in the same transaction, drops this browser's oldest requests beyond
   * `keepPerBrowser` (the new one always stays).
   */
  create(request: PendingAuthorizationRecord, options: { keepPerBrowser: number }): Promise<void>
  /** The unexpired request with this id. */
  find(id: string, now: Date): Promise<PendingAuthorizationRecord | null>
  /**
   * The unexpired request with the user who passed its first factor, in one statement, and what
   * the second step needs of that user's factors (`read`): which ones exist (the second-factor
   * page), or the TOTP record (its form). Null when the request is gone or expired, no first
   * factor is recorded, or that user no longer exists.
   */
  findOwingFactor(id: string, now: Date, read?: OwingFactorRead): Promise<OwingFactor | null>
  /**
   * Records that `userId` passed the first factor (`amr`) for this request and owes a second,
   * with that step's audit `events` in the same commit (an asynchronous one: see the store).
   */
  firstFactor(id: string, userId: string, amr: string[], events?: readonly AuditEventInput[]): Promise<void>
  /**
   * Which factors `userId` has and, when that leaves a step owed (`owed`), {@link firstFactor}'s
   * mark and `events`, in one statement. `marked`: the mark was written (false when nothing was
   * owed, or the request is gone; the events are then not stored).
   */
  firstFactorIfOwed(id: string, userId: string, amr: string[], events: readonly AuditEventInput[], owed: FirstFactorOwed): Promise<{ presence: FactorPresence, marked: boolean }>
  /** Marks that the user signed in (session `sessionId`) for this request. */
  authenticated(id: string, sessionId: string): Promise<void>
  /** Deletes the request; true only for the one caller that deleted it (single completion). */
  take(id: string): Promise<boolean>
  /** Binds this browser's parked requests to its new binding secret (rotated at sign-in). */
  rebind(browserHash: string, newBrowserHash: string): Promise<void>
}

/** What {@link PendingAuthorizationStore.findOwingFactor} reads beside the request and its user. */
export type OwingFactorRead = 'presence' | 'totp'

export interface OwingFactor {
  request: PendingAuthorizationRecord
  user: UserRecord
  /** With `read: 'presence'`, else null. */
  presence: FactorPresence | null
  /** With `read: 'totp'`: the user's TOTP record (null when none), else null. */
  totp: TOTPRecord | null
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
  /** RFC 9449 §10: /token must present a DPoP proof of the key with this thumbprint (absent: not bound). */
  dpopJkt?: string | null
  authTime: Date
  amr: string[]
  acr: string | null
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
}

export interface ConsentStore {
  /** Scopes the user already approved for the client (empty when none). */
  granted(userId: string, clientId: string): Promise<string[]>
  /** Adds `scopes` to what the user approved for the client. */
  grant(userId: string, clientId: string, scopes: string[]): Promise<void>
  /** Forgets the decision; true when there was one. */
  revoke(userId: string, clientId: string): Promise<boolean>
  /** A user's remembered decisions (the account page), newest first, at most `limit`. */
  listForUser(userId: string, limit: number): Promise<Array<{ clientId: string, scopes: string[], updatedAt: Date }>>
}

/**
 * What a retention pass deletes, one kind of dead row at a time (docs/production.md, "Retention").
 * `refresh_tokens_expired`: never consumed nor revoked, expired before `dead`; `_consumed` and
 * `_revoked`: consumed / revoked before `dead`; `sessions_ended`/`_expired`: before `dead`, unless a
 * live refresh token still names the session; `authorization_codes`: expired before `dead`;
 * `authorization_requests`: expired; `device_authorizations`: expired before `dead`; `audit_events`: older than `audit`.
 */
export type PurgeKind =
  | 'refresh_tokens_expired' | 'refresh_tokens_consumed' | 'refresh_tokens_revoked'
  | 'sessions_ended' | 'sessions_expired'
  | 'authorization_codes' | 'authorization_requests' | 'pushed_authorization_requests'
  | 'used_jtis'
  | 'device_authorizations'
  | 'webauthn_challenges' | 'account_tokens' | 'federation_states' | 'federation_pending_links'
  | 'audit_events'

export interface PurgeCutoffs {
  now: Date
  /** Rows dead since before this go (now minus the margin). */
  dead: Date
  /**
   * Mailed links (account_tokens) expired before this go: `dead`, or earlier while the per-address
   * mail limit still counts links created since (it counts rows by creation, consumed or not).
   */
  accountTokens: Date
  /** Audit events older than this go; null keeps all. */
  audit: Date | null
}

/**
 * One bounded DELETE of at most `limit` rows of `kind`; `more` is true when this kind may have
 * more to delete in this pass.
 */
export type PurgeBatch = (kind: PurgeKind, cutoffs: PurgeCutoffs, limit: number) => Promise<{ deleted: number, more: boolean }>

export interface RetentionStore {
  /**
   * Runs `pass` holding the cluster-wide purge lock (try-lock: undefined, without running, when
   * another instance holds it), so one instance purges at a time. `now` is the database's clock:
   * one clock for every instance, unmoved by a jump of this host's.
   */
  exclusive<T>(pass: (batch: PurgeBatch, now: Date) => Promise<T>): Promise<T | undefined>
}

/** A WebAuthn credential (passkey). */
export interface PasskeyRecord {
  /** Credential ID, base64url. */
  id: string
  userId: string
  publicKey: Uint8Array
  signCount: number
  backupEligible: boolean
  backupState: boolean
  transports: string[]
  name: string
  createdAt: Date
  lastUsedAt: Date | null
}

export interface TOTPRecord {
  userId: string
  /** Sealed with the KEK (crypto/kek.ts), the user id as additional data. */
  secretEnc: string
  kekId: string
  lastUsedStep: number | null
  confirmedAt: Date | null
  createdAt: Date
}

export interface WebAuthnChallengeRecord {
  id: string
  browserHash: string
  challenge: string
  purpose: 'register' | 'authenticate'
  userId: string | null
  expiresAt: Date
}

export interface FactorPresence { totp: boolean, passkeys: number, recoveryCodesLeft: number }

/** Whether a step follows the first factor for a user with a second factor, and for one without (domain/authentication_methods.ts). */
export interface FirstFactorOwed { withFactor: boolean, withoutFactor: boolean }

/** A user's second factors: passkeys, TOTP, recovery codes, and WebAuthn challenges. */
export interface FactorStore {
  listPasskeys(userId: string): Promise<PasskeyRecord[]>
  findPasskey(id: string): Promise<PasskeyRecord | null>
  addPasskey(passkey: Omit<PasskeyRecord, 'createdAt' | 'lastUsedAt'>): Promise<void>
  /** Records a successful assertion: the new signature counter, backup state and last use. */
  passkeyUsed(id: string, signCount: number, backupState: boolean, now: Date): Promise<void>
  /** False when the user has no such passkey. */
  renamePasskey(userId: string, id: string, name: string): Promise<boolean>
  removePasskey(userId: string, id: string): Promise<boolean>

  findTOTP(userId: string): Promise<TOTPRecord | null>
  /** Starts (or restarts) an enrolment: an unconfirmed secret replaces an unconfirmed one, never a confirmed one. */
  beginTOTP(record: Pick<TOTPRecord, 'userId' | 'secretEnc' | 'kekId'>): Promise<boolean>
  /**
   * Accepts a code for time step `step` atomically: true only when the factor exists (confirmed,
   * or being confirmed when `confirm`) and no code of this or a later step was accepted before.
   */
  acceptTOTPStep(userId: string, step: number, now: Date, confirm: boolean): Promise<boolean>
  removeTOTP(userId: string): Promise<boolean>

  /** Replaces all of the user's recovery codes with these hashes, in one transaction. */
  replaceRecoveryCodes(userId: string, hashes: string[]): Promise<void>
  /** Marks the code used; true only for the one caller that did (single use). */
  consumeRecoveryCode(userId: string, hash: string, now: Date): Promise<boolean>
  remainingRecoveryCodes(userId: string): Promise<number>
  /** What the sign-in's second step needs to know, in one read: a confirmed TOTP, how many passkeys and unused recovery codes. */
  factorPresence(userId: string): Promise<FactorPresence>

  /** Removes every factor of the user (passkeys, TOTP, recovery codes); returns how many of each. */
  resetFactors(userId: string): Promise<{ passkeys: number, totp: number, recoveryCodes: number }>

  createChallenge(challenge: WebAuthnChallengeRecord): Promise<void>
  /** Deletes and returns the live challenge bound to this browser (single use). */
  takeChallenge(id: string, browserHash: string, now: Date): Promise<WebAuthnChallengeRecord | null>
}

/**
 * JWT identifiers that may be used once (client assertions, DPoP proofs), shared by all
 * instances so that a replay to another instance is caught too.
 */
export interface ReplayStore {
  /**
   * Records `jti` in `namespace` until `expiresAt`: true the first time, false when it was
   * already recorded and has not expired (a replay). Atomic: of two concurrent calls with the
   * same values exactly one gets true.
   */
  markUsed(namespace: string, jti: string, expiresAt: Date, now: Date): Promise<boolean>
}

/** RFC 8628 device authorization (see prisma/schema.prisma DeviceAuthorization). */
export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied' | 'consumed'

export interface DeviceAuthorizationRecord {
  id: string
  deviceCodeHash: string
  userCodeHash: string
  clientId: string
  scope: string
  audience: string[]
  status: DeviceAuthorizationStatus
  interval: number
  lastPolledAt: Date | null
  userId: string | null
  sessionId: string | null
  authTime: Date | null
  decidedAt: Date | null
  expiresAt: Date
}

export type NewDeviceAuthorization = Omit<DeviceAuthorizationRecord, 'status' | 'lastPolledAt' | 'userId' | 'sessionId' | 'authTime' | 'decidedAt'>

export type DeviceDecision =
  | { approved: true, userId: string, sessionId: string, authTime: Date, scope: string }
  | { approved: false, userId: string }

/** One poll of the token endpoint, as the single statement saw and left the row. */
export interface DevicePoll {
  /** The row after the poll (status `consumed` when this poll took the approval). */
  record: DeviceAuthorizationRecord
  /** The status before this poll. */
  previousStatus: DeviceAuthorizationStatus
  /** The previous poll came less than `interval` seconds ago (slow_down; the interval grew). */
  tooFast: boolean
}

export interface DeviceAuthorizationStore {
  /** False when the user code (or device code) is taken already: the caller draws another. */
  create(record: NewDeviceAuthorization): Promise<boolean>
  find(id: string): Promise<DeviceAuthorizationRecord | null>
  findByUserCodeHash(userCodeHash: string): Promise<DeviceAuthorizationRecord | null>
  /** Approves or denies a pending, unexpired request, once; null when it was not (any more). */
  decide(id: string, decision: DeviceDecision, now: Date): Promise<DeviceAuthorizationRecord | null>
  /**
   * One poll, in one statement: records the poll time, grows the interval by 5 s when the poll
   * came too early (`toleranceMs` of slack for network jitter), and consumes an approval that is
   * polled in time and not too early, so it is handed out exactly once. Null for an unknown code.
   */
  poll(deviceCodeHash: string, clientId: string, now: Date, toleranceMs: number): Promise<DevicePoll | null>
}

/** RFC 9126 pushed authorization requests, stored under the hash of their reference. */
export interface PushedAuthorizationStore {
  create(request: { id: string, clientId: string, parameters: Record<string, string[]>, expiresAt: Date }): Promise<void>
  /**
   * Deletes and returns the parameters of the unexpired request `id` pushed by `clientId`, in one
   * statement: exactly one caller ever gets them (RFC 9126 §4: "one-time use"). Null otherwise.
   */
  consume(id: string, clientId: string, now: Date): Promise<Record<string, string[]> | null>
}

/** What a mailed single-use link is for. */
export type AccountTokenPurpose = 'reset_password' | 'verify_email' | 'invite' | 'link_identity'

export interface AccountTokenRecord {
  id: string
  purpose: AccountTokenPurpose
  userId: string | null
  email: string
  scopes: string[]
  createdBy: string | null
  createdAt: Date
  expiresAt: Date
  consumedAt: Date | null
  /** link_identity: the pending federated link (PendingLinkRecord.id) the mail confirms. */
  pendingLinkId: string | null
}

export type NewAccountToken = Omit<AccountTokenRecord, 'createdAt' | 'consumedAt'> & { tokenHash: string }

/** A user created by redeeming an invitation or signing up. */
export type NewAccountUser = Pick<UserRecord, 'username' | 'email' | 'passwordHash' | 'scopes'> & { verificationPending: boolean, emailVerified: boolean }

/**
 * Single-use links sent by mail (account_tokens). Every `consume…` method takes the token in one
 * conditional UPDATE (unconsumed, unexpired, of that purpose) inside a transaction with its
 * effect, so a link works once, and not at all once it expired.
 */
export interface AccountTokenStore {
  create(token: NewAccountToken): Promise<AccountTokenRecord>
  /** The unconsumed, unexpired token (a page shows its form before the link is used). */
  findLive(tokenHash: string, purpose: AccountTokenPurpose, now: Date): Promise<AccountTokenRecord | null>
  /** Links of `purpose` created for `email` since `since` (the per-address rate limit). */
  countSince(email: string, purpose: AccountTokenPurpose, since: Date): Promise<number>
  /**
   * Consumes a reset link and sets the new password hash; the user's other reset links are
   * consumed too, and the address counts as verified (the link reached it). Null: no live link.
   */
  resetPassword(tokenHash: string, passwordHash: string, now: Date): Promise<{ userId: string } | null>
  /** Consumes a verification link and marks the address verified, if it is still the user's. */
  verifyEmail(tokenHash: string, now: Date): Promise<{ userId: string } | null>
  /** Consumes an invitation and creates its user in one transaction; `username_taken` leaves the invitation unused. */
  redeemInvite(tokenHash: string, user: Omit<NewAccountUser, 'email' | 'scopes'>, now: Date): Promise<{ user: UserRecord, invite: AccountTokenRecord } | 'invalid' | 'username_taken'>
  /** Creates a self-registered user (username taken: null). */
  createUser(user: NewAccountUser): Promise<UserRecord | null>
  /** Invitations not yet redeemed or expired, newest first. */
  listInvites(now: Date): Promise<AccountTokenRecord[]>
  /** Withdraws an unused invitation; false when there is none. */
  revokeInvite(id: string, now: Date): Promise<boolean>
}

// --- federation (upstream identity providers, issue 16) ---------------------------------------

export type IdentityProviderKind = 'oidc' | 'oauth2'
export type UpstreamAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'

/** Which upstream claim (or userinfo member) fills each local field. */
export interface ClaimMapping {
  sub?: string
  email?: string
  email_verified?: string
  name?: string
  username?: string
}

export interface IdentityProviderRecord {
  id: string
  slug: string
  displayName: string
  kind: IdentityProviderKind
  issuer: string | null
  clientId: string
  authMethod: UpstreamAuthMethod
  /** Sealed client secret or private JWK (JSON); null for `none`. */
  credentialEnc: string | null
  kekId: string | null
  scope: string
  authorizationEndpoint: string | null
  tokenEndpoint: string | null
  userinfoEndpoint: string | null
  /**
   * oauth2: a GitHub-style address list (`GET /user/emails`: `[{ email, primary, verified }]`)
   * asked when userinfo has no email; the primary verified address is used.
   */
  emailsEndpoint: string | null
  claimMapping: ClaimMapping
  jit: boolean
  domains: string[]
  enabled: boolean
  upstreamLogout: boolean
  createdAt: Date
  updatedAt: Date
}

export type NewIdentityProvider = Omit<IdentityProviderRecord, 'id' | 'createdAt' | 'updatedAt'>
export type IdentityProviderPatch = Partial<Omit<NewIdentityProvider, 'slug'>>

export interface FederatedIdentityRecord {
  id: string
  providerId: string
  subject: string
  userId: string
  email: string | null
  createdAt: Date
  lastUsedAt: Date | null
}

export interface FederationStateRecord {
  stateHash: string
  purpose: 'login' | 'logout' | 'session'
  browserHash: string
  requestId: string | null
  providerId: string
  nonce: string | null
  codeVerifier: string | null
  returnTo: string | null
  idTokenEnc: string | null
  expiresAt: Date
}

export interface PendingLinkRecord {
  id: string
  browserHash: string
  requestId: string
  providerId: string
  subject: string
  email: string | null
  userId: string
  expiresAt: Date
}

export interface FederationStore {
  listProviders(): Promise<IdentityProviderRecord[]>
  findProvider(idOrSlug: string): Promise<IdentityProviderRecord | null>
  /** Null when the slug is taken. */
  createProvider(provider: NewIdentityProvider): Promise<IdentityProviderRecord | null>
  updateProvider(id: string, patch: IdentityProviderPatch): Promise<IdentityProviderRecord | null>
  /** Deletes the provider with its links; the number of links removed, or null when there was none. */
  deleteProvider(id: string): Promise<{ links: number } | null>

  findLink(providerId: string, subject: string): Promise<FederatedIdentityRecord | null>
  /** Null when (provider, subject) is already linked (to anyone). */
  createLink(link: Omit<FederatedIdentityRecord, 'id' | 'createdAt' | 'lastUsedAt'>): Promise<FederatedIdentityRecord | null>
  linksForUser(userId: string): Promise<FederatedIdentityRecord[]>
  removeLink(userId: string, id: string): Promise<FederatedIdentityRecord | null>
  linkUsed(id: string, now: Date): Promise<void>

  createState(state: FederationStateRecord): Promise<void>
  /** Deletes and returns the live state (one caller wins: single use), or null. */
  takeState(stateHash: string, now: Date): Promise<FederationStateRecord | null>

  createPendingLink(link: PendingLinkRecord): Promise<void>
  /** The live pending link for this request and browser (not consumed). */
  findPendingLink(requestId: string, browserHash: string, now: Date): Promise<PendingLinkRecord | null>
  /**
   * After a sign-in, in one statement: deletes and returns the request's live pending link for
   * this browser (single use) and the live state `stateHash` ({@link takeState}).
   */
  takeSignInHolds(requestId: string, browserHash: string, stateHash: string, now: Date): Promise<{ pendingLink: PendingLinkRecord | null, held: FederationStateRecord | null }>
  /** The live pending link by id (a mailed confirmation names it). */
  findPendingLinkById(id: string, now: Date): Promise<PendingLinkRecord | null>
  /**
   * Confirmation by mail, in one transaction: consumes the live `link_identity` account token,
   * takes its pending link (live, of this browser, for the token's user) and links the identity.
   * Null, with nothing changed, when any of that fails; `link` is null when (provider, subject)
   * was linked meanwhile.
   */
  confirmPendingLink(tokenHash: string, browserHash: string, now: Date): Promise<{ pending: PendingLinkRecord, link: FederatedIdentityRecord | null } | null>
  /** Removes one link of `userId` by link id or by provider (id); the removed links. */
  removeLinks(userId: string, linkOrProviderId: string): Promise<FederatedIdentityRecord[]>

  saveUpstreamSession(sessionId: string, providerId: string, idTokenEnc: string, kekId: string): Promise<void>
  findUpstreamSession(sessionId: string): Promise<{ providerId: string, idTokenEnc: string } | null>
}

/**
 * The factor a sign-in's completion consumes first, in its own transaction: a TOTP time step
 * (RFC 6238 §5.2: accepted once) or a recovery code (single use).
 */
export type SignInFactorUse =
  | { kind: 'totp', userId: string, step: number }
  | { kind: 'recovery', userId: string, codeHash: string, now: Date }

/** What one completed sign-in writes, all in one transaction with one (synchronous) commit. */
export interface SignInCompletion {
  /** Consumed first; when refused (used meanwhile, replayed), nothing at all is written. */
  factor?: SignInFactorUse
  /** The session: a new one, or the same user's re-authenticated (new cookie hash, `authTime`, `amr`). */
  session: { create: Omit<SessionRecord, 'clientIds' | 'createdAt' | 'endedAt'> } | { reauthenticate: Pick<SessionRecord, 'id' | 'tokenHash' | 'authTime' | 'amr' | 'acr'> }
  /** This browser's parked requests move to the new binding secret (hashes). */
  rebind: { browserHash: string, newBrowserHash: string }
  /**
   * The parked request: marked authenticated (consent follows), or taken (deleted: single
   * completion, refused when it is gone), with the code issued for it, if any.
   */
  request: { id: string, then: 'authenticated' } | { id: string, then: 'taken', code?: NewAuthorizationCode }
  /** The audit events recording the sign-in, given what the factor use found (recovery codes left). */
  events: (found: { recoveryCodesLeft?: number }) => AuditEventInput[]
}

export type SignInOutcome =
  | { ok: true, session: SessionRecord, events: AuditEventInput[] }
  | { ok: false, reason: 'factor_refused' | 'request_gone' }

export interface SignInStore {
  /** Writes a completed sign-in atomically; rolls back all of it when the factor or the request is refused. */
  complete(completion: SignInCompletion): Promise<SignInOutcome>
}
