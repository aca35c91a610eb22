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

export interface ClientStore {
  find(id: string): Promise<ClientRecord | null>
  create(client: ClientRecord): Promise<void>
}

export interface UserRecord {
  id: string
  username: string
  email: string | null
  passwordHash: string
  disabled: boolean
  scopes: string[]
}

export interface UserStore {
  findByUsername(username: string): Promise<UserRecord | null>
  findById(id: string): Promise<UserRecord | null>
  create(user: Omit<UserRecord, 'id' | 'disabled'>): Promise<UserRecord>
  updatePasswordHash(id: string, passwordHash: string): Promise<void>
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
