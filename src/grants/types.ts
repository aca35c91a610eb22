/**
 * The grant handler contract (cf. fosite's HandleTokenEndpointRequest, node-oidc-provider's
 * registerGrantType): each grant declares the parameters it reads, and the token route strips the
 * rest before calling it.
 *
 * @module
 */
import type { Policy } from '../config/defaults.js'
import type { AuthorizationCodeStore, ClientRecord, DeviceAuthorizationStore, RefreshTokenStore, SessionStore, UserStore } from '../storage/types.js'
import type { TokenMinter } from '../domain/tokens.js'
import type { PasswordHasher } from '../domain/passwords.js'
import type { LoginThrottle } from '../domain/login_throttle.js'
import type { AuditLog } from '../domain/audit.js'

export interface TokenResponse {
  access_token: string
  /** `DPoP` for a DPoP-bound access token (RFC 9449 §5). */
  token_type: 'Bearer' | 'DPoP'
  expires_in: number
  scope: string
  refresh_token?: string
  id_token?: string
  /** RFC 8693 §2.2.1 */
  issued_token_type?: string
}

export interface GrantServices {
  issuer: string
  policy: Policy
  minter: TokenMinter
  users: UserStore
  refreshTokens: RefreshTokenStore
  codes: AuthorizationCodeStore
  /** SSO sessions: a code or refresh of an ended session is refused. */
  sessions: SessionStore
  passwords: PasswordHasher
  /** Back-off after failed logins (password grant). */
  throttle: LoginThrottle
  /** Security events: logins, refresh-token reuse. */
  audit: AuditLog
  log: { info(obj: object, msg: string): void, warn(obj: object, msg: string): void }
  /** RFC 8628 device authorizations (the device_code grant). */
  devices: DeviceAuthorizationStore
  /** Clients by id (token exchange checks the subject token's client is still allowed). */
  findClient: (id: string) => Promise<ClientRecord | null>
}

export interface GrantRequest {
  client: ClientRecord
  /** Single-valued parameters the grant declared (duplicates were rejected already). */
  params: Record<string, string | undefined>
  /** RFC 8707 `resource`, the one parameter that may repeat. */
  resources: string[] | undefined
  /** The client's IP address (per TRUST_PROXY), for login throttling and the audit trail. */
  ip: string
  /** The thumbprint of a valid DPoP proof's key (RFC 9449 §5): the access token gets bound to it. */
  dpopJkt?: string
}

export interface Grant {
  grantType: string
  /** Parameters this grant reads, besides grant_type and client authentication. */
  parameters: readonly string[]
  /** Whether a public client (no secret) may use it. */
  allowPublicClients: boolean
  handler(request: GrantRequest, services: GrantServices): Promise<TokenResponse>
}
