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
}

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
  /**
   * The token plus whether its user may still sign in (true when it has no user), in one round
   * trip: the refresh grant's hot path.
   */
  findWithUserState(jti: string): Promise<(RefreshTokenRecord & { userActive: boolean }) | null>
  create(token: NewRefreshToken): Promise<void>
  /**
   * Atomically consumes `jti` and stores `successor` (one transaction). When the token was consumed
   * less than `graceSeconds` ago by the same client, the successor is stored all the same.
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
