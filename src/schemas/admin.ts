/**
 * TypeBox schemas of the admin API: request validation (unknown properties rejected, not
 * stripped) and response serialization (only the listed fields ever leave the server, so no
 * hash can slip into a response). They also feed the OpenAPI document.
 *
 * @module
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'

export const ADMIN_SCOPE = 'stamp:admin'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Timestamp = Type.String({ format: 'date-time' })

export const ScopeToken = Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$', maxLength: 128 })
const Uri = Type.String({ minLength: 1, maxLength: 2048 })
const ClientId = Type.String({ pattern: '^[A-Za-z0-9._~-]{1,128}$' })
const Username = Type.String({ pattern: '^[^\\s\\x00-\\x1f\\x7f]{1,128}$' })
const Password = Type.String({ minLength: 1, maxLength: 1024 })
const Email = Type.String({ pattern: '^[^@\\s]{1,64}@[^@\\s]{1,255}$' })
const UUID = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' })

export const ErrorBody = Type.Object({ error: Type.String(), error_description: Type.String() }, { description: 'RFC 6749 §5.2 error' })

export const PageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
}, { additionalProperties: false })
export type PageQuery = Static<typeof PageQuery>

/** A search term: a case-insensitive substring. */
const searchTerm = (description: string) => Type.String({ minLength: 1, maxLength: 128, description })
/** RFC 3339 date-time, checked by pattern (the admin validator has no format plugin) and then parsed. */
const dateTimeParam = (description: string) => Type.String({ description: `${description} (RFC 3339 date-time)`, pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})$' })
const timestamp = (description: string) => Type.String({ format: 'date-time', description })

export const AuditQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$' })),
  type: Type.Optional(Type.String({ pattern: '^[a-z_]{1,64}$' })),
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Exact actor (an admin\'s sub, a user id, a client id, or "cli")' })),
  subject: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Exact subject (a user id, client id, kid or family id)' })),
  since: Type.Optional(dateTimeParam('Events at or after this time')),
  until: Type.Optional(dateTimeParam('Events before this time')),
}, { additionalProperties: false })
export type AuditQuery = Static<typeof AuditQuery>

const page = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), next_cursor: Nullable(Type.String()) })

export const ClientIdParams = Type.Object({ id: ClientId }, { additionalProperties: false })
export const UserIdParams = Type.Object({ id: UUID }, { additionalProperties: false })
export const FamilyParams = Type.Object({ familyId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }) }, { additionalProperties: false })
export const SessionParams = Type.Object({ sid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }) }, { additionalProperties: false })
export const KidParams = Type.Object({ kid: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }) }, { additionalProperties: false })

/** A public JWK Set (RFC 7517 §5); private members are refused by the registration rules. */
const ClientJWKS = Type.Object({ keys: Type.Array(Type.Object({ kty: Type.String() }, { additionalProperties: true }), { minItems: 1, maxItems: 20 }) }, { additionalProperties: false })
const AuthMethod = Type.Union([Type.Literal('client_secret_basic'), Type.Literal('client_secret_post'), Type.Literal('private_key_jwt')], { description: 'private_key_jwt (RFC 7523): no secret, the client signs assertions with a key of jwks or jwks_uri' })
const SigningAlg = (description: string) => Nullable(Type.Union(['RS256', 'PS256', 'ES256', 'EdDSA'].map((alg) => Type.Literal(alg)), { description }))
const AssertionAlg = SigningAlg('OIDC Dynamic Client Registration §2: the only algorithm private_key_jwt assertions may be signed with (null: any accepted; the fapi2 profile: PS256, ES256, EdDSA)')
const RequestObjectAlg = SigningAlg('OIDC Dynamic Client Registration §2: the only algorithm request objects (RFC 9101) may be signed with (null: any accepted)')
const Profile = Nullable(Type.Literal('fapi2', { description: 'FAPI 2.0 Security Profile: PAR, PKCE S256, private_key_jwt, PS256/ES256/EdDSA only' }))

export const Client = Type.Object({
  client_id: Type.String(),
  name: Type.String(),
  public: Type.Boolean(),
  first_party: Type.Boolean(),
  grant_types: Type.Array(Type.String()),
  redirect_uris: Type.Array(Type.String()),
  post_logout_redirect_uris: Type.Array(Type.String()),
  backchannel_logout_uri: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  audiences: Type.Array(Type.String()),
  exchange_audiences: Type.Array(Type.String(), { description: 'RFC 8693 token exchange: the audiences this client may exchange tokens for' }),
  require_pkce: Type.Boolean({ description: 'PKCE (S256) required at /authorize; always true for public clients' }),
  require_mfa: Type.Boolean({ description: 'Users signing in to this client need a second factor' }),
  token_endpoint_auth_method: Type.String({ description: 'client_secret_basic (or _post), private_key_jwt, or none (public)' }),
  jwks: Nullable(ClientJWKS),
  jwks_uri: Nullable(Type.String()),
  token_endpoint_auth_signing_alg: AssertionAlg,
  request_object_signing_alg: RequestObjectAlg,
  require_pushed_authorization_requests: Type.Boolean({ description: 'Authorization requests must come through /par (RFC 9126)' }),
  profile: Nullable(Type.String()),
  dpop_bound_access_tokens: Type.Boolean({ description: 'RFC 9449 §5.2: token requests must carry a DPoP proof' }),
  refresh_token_rotation: Type.Boolean({ description: 'Whether each refresh returns a new refresh token (RFC 9700 §4.14.2); off by default for the fapi2 profile (FAPI 2.0 §5.3.2.1)' }),
  disabled: Type.Boolean(),
  origin: Type.Union([Type.Literal('admin'), Type.Literal('dcr'), Type.Literal('cimd')], { description: 'admin: API or CLI; dcr: RFC 7591 /register; cimd: a client ID metadata document' }),
  created_at: Nullable(Type.String({ format: 'date-time' })),
  last_used_at: Nullable(Type.String({ format: 'date-time', description: 'Last token issued (recorded at most once per hour)' })),
  revoked_at: Nullable(Type.String({ format: 'date-time' })),
})
export const ClientWithSecret = Type.Composite([Client, Type.Object({ client_secret: Type.Optional(Type.String({ description: 'Shown once; only its hash is stored' })) })])
export const ClientSecret = Type.Object({ client_id: Type.String(), client_secret: Type.String({ description: 'Shown once; only its hash is stored' }) })
export const ClientPage = page(Client)

const clientSettings = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  grant_types: Type.Array(Type.String({ pattern: '^[a-z_:.-]{1,64}$' }), { maxItems: 10 }),
  redirect_uris: Type.Array(Uri, { maxItems: 20 }),
  post_logout_redirect_uris: Type.Array(Uri, { maxItems: 20 }),
  backchannel_logout_uri: Nullable(Uri),
  scopes: Type.Array(ScopeToken, { maxItems: 100 }),
  audiences: Type.Array(Uri, { maxItems: 20 }),
  exchange_audiences: Type.Array(Uri, { maxItems: 20, description: 'RFC 8693 token exchange allow-list (required with the token-exchange grant)' }),
  first_party: Type.Boolean(),
  require_pkce: Type.Boolean({ description: 'Require PKCE (S256) at /authorize (default true; always true for public clients)' }),
  require_mfa: Type.Boolean({ description: 'Require a second factor from users signing in to this client (default false); a user without one enrols at sign-in' }),
  token_endpoint_auth_method: AuthMethod,
  jwks: Nullable(ClientJWKS),
  jwks_uri: Nullable(Uri),
  token_endpoint_auth_signing_alg: AssertionAlg,
  request_object_signing_alg: RequestObjectAlg,
  require_pushed_authorization_requests: Type.Boolean({ description: 'Authorization requests must come through /par (RFC 9126); always true for the fapi2 profile' }),
  profile: Profile,
  dpop_bound_access_tokens: Type.Boolean({ description: 'RFC 9449 §5.2: refuse token requests without a DPoP proof (default false)' }),
  refresh_token_rotation: Nullable(Type.Boolean({ description: 'Rotate refresh tokens on every use (RFC 9700 §4.14.2); null: the profile decides (on; off for fapi2, FAPI 2.0 §5.3.2.1). Off needs a confidential client or DPoP-bound tokens' })),
}
export const CreateClientBody = Type.Object({
  ...clientSettings,
  grant_types: Type.Optional(clientSettings.grant_types),
  redirect_uris: Type.Optional(clientSettings.redirect_uris),
  post_logout_redirect_uris: Type.Optional(clientSettings.post_logout_redirect_uris),
  backchannel_logout_uri: Type.Optional(clientSettings.backchannel_logout_uri),
  scopes: Type.Optional(clientSettings.scopes),
  audiences: Type.Optional(clientSettings.audiences),
  exchange_audiences: Type.Optional(clientSettings.exchange_audiences),
  first_party: Type.Optional(clientSettings.first_party),
  require_pkce: Type.Optional(clientSettings.require_pkce),
  require_mfa: Type.Optional(clientSettings.require_mfa),
  token_endpoint_auth_method: Type.Optional(clientSettings.token_endpoint_auth_method),
  jwks: Type.Optional(clientSettings.jwks),
  jwks_uri: Type.Optional(clientSettings.jwks_uri),
  token_endpoint_auth_signing_alg: Type.Optional(clientSettings.token_endpoint_auth_signing_alg),
  request_object_signing_alg: Type.Optional(clientSettings.request_object_signing_alg),
  require_pushed_authorization_requests: Type.Optional(clientSettings.require_pushed_authorization_requests),
  profile: Type.Optional(clientSettings.profile),
  dpop_bound_access_tokens: Type.Optional(clientSettings.dpop_bound_access_tokens),
  refresh_token_rotation: Type.Optional(clientSettings.refresh_token_rotation),
  client_id: Type.Optional(ClientId),
  public: Type.Optional(Type.Boolean()),
}, { additionalProperties: false })
export type CreateClientBody = Static<typeof CreateClientBody>
/** Whether a client is public cannot change: it would need a secret issued or thrown away. */
export const UpdateClientBody = Type.Partial(Type.Object({
  ...clientSettings,
  disabled: Type.Boolean({ description: 'A disabled client is refused everywhere; disabling revokes its refresh tokens' }),
}), { additionalProperties: false, minProperties: 1 })
export type UpdateClientBody = Static<typeof UpdateClientBody>

export const User = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Nullable(Type.String()),
  disabled: Type.Boolean(),
  scopes: Type.Array(Type.String()),
  mfa_required: Type.Boolean({ description: 'A second factor is required at sign-in (set by an administrator)' }),
  email_verified: Type.Boolean({ description: 'The user proved the current email address (a link they followed); changing the address clears it' }),
})
export const UserPage = page(User)
export const UserListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  q: Type.Optional(searchTerm('Only users whose username or email contains this (case-insensitive)')),
}, { additionalProperties: false })
export type UserListQuery = Static<typeof UserListQuery>
export const CreateUserBody = Type.Object({
  username: Username,
  password: Password,
  email: Type.Optional(Nullable(Email)),
  scopes: Type.Optional(Type.Array(ScopeToken, { maxItems: 100 })),
  admin: Type.Optional(Type.Boolean({ description: `Grants the ${ADMIN_SCOPE} scope` })),
}, { additionalProperties: false })
export type CreateUserBody = Static<typeof CreateUserBody>
export const UpdateUserBody = Type.Object({
  email: Type.Optional(Nullable(Email)),
  disabled: Type.Optional(Type.Boolean({ description: 'Disabling also signs the user out everywhere' })),
  scopes: Type.Optional(Type.Array(ScopeToken, { maxItems: 100 })),
  mfa_required: Type.Optional(Type.Boolean({ description: 'Require a second factor at sign-in; a user without one enrols at the next sign-in' })),
}, { additionalProperties: false, minProperties: 1 })
export type UpdateUserBody = Static<typeof UpdateUserBody>
/** A user's second factors, as the admin API lists them (never a secret or public key). */
export const UserFactors = Type.Object({
  user_id: Type.String(),
  mfa_required: Type.Boolean(),
  totp: Type.Boolean({ description: 'A confirmed TOTP authenticator' }),
  recovery_codes_left: Type.Integer(),
  passkeys: Type.Array(Type.Object({
    id: Type.String({ description: 'WebAuthn credential ID (base64url)' }),
    name: Type.String(),
    backup_eligible: Type.Boolean(),
    backup_state: Type.Boolean(),
    transports: Type.Array(Type.String()),
    created_at: Timestamp,
    last_used_at: Nullable(Timestamp),
  })),
})
export const FactorsReset = Type.Object({ user_id: Type.String(), passkeys: Type.Integer(), totp: Type.Integer(), recovery_codes: Type.Integer() })
export const PasswordBody = Type.Object({ password: Password }, { additionalProperties: false })
export type PasswordBody = Static<typeof PasswordBody>

export const RefreshFamily = Type.Object({
  family_id: Type.String(),
  user_id: Nullable(Type.String()),
  client_id: Type.String(),
  scope: Type.String(),
  created_at: Timestamp,
  last_used_at: Timestamp,
  expires_at: Timestamp,
  active: Type.Boolean(),
  revoked_at: Nullable(Timestamp),
})
export const RefreshFamilyPage = page(RefreshFamily)

/** An SSO session: one sign-in at the hosted login page, shared by every client it served. */
export const Session = Type.Object({
  sid: Type.String({ description: 'The `sid` claim of ID tokens, access tokens and logout tokens' }),
  user_id: Type.String(),
  auth_time: Timestamp,
  created_at: Timestamp,
  expires_at: Timestamp,
  ended_at: Nullable(Timestamp),
  client_ids: Type.Array(Type.String(), { description: 'Clients that received a code in this session' }),
})
export const SessionPage = page(Session)
export const SessionListQuery = PageQuery

export const SignedOut = Type.Object({
  ended_sessions: Type.Integer({ description: 'SSO sessions ended (each client with a back-channel logout URI is notified)' }),
  revoked_families: Type.Integer(),
})

export const Key = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  status: Type.String(),
  created_at: Timestamp,
  activated_at: Nullable(Timestamp),
  retiring_at: Nullable(Timestamp),
  retire_after: Nullable(Timestamp),
  retired_at: Nullable(Timestamp),
})
export const KeyRotationRule = Type.Object({
  pre_publication_seconds: Type.Integer({ description: 'JWKS_MAX_AGE + KEY_REFRESH_INTERVAL: how long a next key is published before it may sign' }),
  rotation_interval_seconds: Type.Integer({ description: 'KEY_ROTATION_INTERVAL: how long a key is active before a scheduled rotation' }),
  retiring_grace_seconds: Type.Integer({ description: 'How long a retiring key stays published after it stopped signing' }),
  next_rotatable_at: Nullable(timestamp('When the next key has been published long enough for a rotation without force')),
  scheduled_rotation_at: Nullable(timestamp('When the scheduler rotates (active key\'s interval served, and the next key rotatable)')),
  now: timestamp('The server time these were computed at'),
})
export const KeyList = Type.Object({ keys: Type.Array(Key), rotation: KeyRotationRule })
export const RotateKeysBody = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false })
export const RotateResult = Type.Object({ active: Type.String(), next: Type.String(), retiring: Type.String() })
export const RevokeKeyResult = Type.Object({ revoked: Type.String(), refresh_families_revoked: Type.Integer(), active: Type.String() })

export const AuditEvent = Type.Object({
  id: Type.String(),
  created_at: Timestamp,
  type: Type.String(),
  actor: Nullable(Type.String()),
  subject: Nullable(Type.String()),
  client_id: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  detail: Nullable(Type.Record(Type.String(), Type.Unknown())),
})
export const AuditPage = page(AuditEvent)

/** Error responses every admin route can give. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  429: ErrorBody,
}

export const ConsentParams = Type.Object({ id: UUID, clientId: ClientId }, { additionalProperties: false })
export const ConsentRevoked = Type.Object({
  user_id: Type.String(),
  client_id: Type.String(),
  revoked: Type.Boolean({ description: 'Whether there was a consent to withdraw' }),
  refresh_families_revoked: Type.Integer(),
})
const Origin = Type.Union([Type.Literal('admin'), Type.Literal('dcr'), Type.Literal('cimd')])
export const ClientListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  origin: Type.Optional(Origin),
  q: Type.Optional(searchTerm('Only clients whose client_id or name contains this (case-insensitive)')),
}, { additionalProperties: false })
export type ClientListQuery = Static<typeof ClientListQuery>

/** Any client id, including a metadata document URL (too long and too varied for a path segment). */
export const RevokeClientBody = Type.Object({ client_id: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false })
export type RevokeClientBody = Static<typeof RevokeClientBody>
export const RevokedClient = Type.Object({ client_id: Type.String(), revoked_at: Type.String({ format: 'date-time' }), refresh_families_revoked: Type.Integer() })

export const PurgeClientsBody = Type.Object({
  unused_days: Type.Integer({ minimum: 1, maximum: 3650 }),
  origins: Type.Optional(Type.Array(Type.Union([Type.Literal('dcr'), Type.Literal('cimd')]), { minItems: 1, uniqueItems: true })),
}, { additionalProperties: false })
export type PurgeClientsBody = Static<typeof PurgeClientsBody>
export const PurgedClients = Type.Object({ purged: Type.Array(Type.String()) })

/** Mail links (routes/admin/account_mail.ts). */
const MailLocale = Type.Union([Type.Literal('en'), Type.Literal('de')], { description: 'Language of the mail (default en)' })
export const ResetEmailBody = Type.Object({ locale: Type.Optional(MailLocale) }, { additionalProperties: false })
export type ResetEmailBody = Static<typeof ResetEmailBody>
export const ResetEmailSent = Type.Object({
  sent: Type.Boolean({ description: 'False when the per-address mail cap was reached (no mail went out)' }),
})
export const InviteBody = Type.Object({
  email: Email,
  scopes: Type.Optional(Type.Array(ScopeToken, { maxItems: 50 })),
  locale: Type.Optional(MailLocale),
}, { additionalProperties: false })
export type InviteBody = Static<typeof InviteBody>
export const Invite = Type.Object({
  id: Type.String(),
  email: Type.String(),
  scopes: Type.Array(Type.String()),
  created_by: Nullable(Type.String()),
  created_at: Timestamp,
  expires_at: Timestamp,
})
export const InviteCreated = Type.Object({
  ...Invite.properties,
  invite_url: Type.String({ description: 'The single-use sign-up link (also mailed); shown once, only its hash is stored' }),
})
export const InviteList = Type.Object({ items: Type.Array(Invite) })
export const InviteIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }) }, { additionalProperties: false })

/** Counts for the console's overview: one request, no list walked. */
export const Overview = Type.Object({
  users: Type.Object({ total: Type.Integer(), disabled: Type.Integer() }),
  clients: Type.Object({ admin: Type.Integer(), dcr: Type.Integer(), cimd: Type.Integer() }),
  active_sessions: Type.Integer(),
  keys: Type.Object({ next: Type.Integer(), active: Type.Integer(), retiring: Type.Integer(), retired: Type.Integer(), revoked: Type.Integer() }),
})

export const ConfigEntry = Type.Object({
  name: Type.String({ description: 'The environment variable' }),
  value: Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()], { description: 'Effective value; a secret is never shown (see masked)' }),
  source: Type.Union([Type.Literal('environment'), Type.Literal('default'), Type.Literal('unset'), Type.Literal('derived')]),
  masked: Type.Boolean({ description: 'The value is a secret, or holds one (a password in a URL): replaced by ******** or shown without it' }),
  description: Type.String(),
})
export const EffectiveConfig = Type.Object({ issuer: Type.String(), settings: Type.Array(ConfigEntry) })

/** One second factor removed by an administrator (routes/admin/user_factors.ts). */
export const PasskeyParams = Type.Object({ id: UUID, credentialId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,1400}$', description: 'WebAuthn credential ID (base64url)' }) }, { additionalProperties: false })
export const FactorRemoved = Type.Object({ user_id: Type.String(), removed: Type.Boolean({ description: 'Whether there was such a factor to remove' }) })
/** A user's remembered consents (the same list as their account page shows). */
export const UserConsents = Type.Object({
  items: Type.Array(Type.Object({ client_id: Type.String(), scopes: Type.Array(Type.String()), updated_at: Timestamp })),
})

/** A user's links to upstream identity providers (the same list as their account page shows). */
export const UserIdentity = Type.Object({
  id: Type.String({ description: 'The link id' }),
  provider_id: Type.String(),
  provider: Nullable(Type.String({ description: 'The provider\'s name (slug); null when it is gone' })),
  provider_display_name: Nullable(Type.String()),
  subject: Type.String({ description: 'The upstream `sub` (or mapped identifier) the user is linked to' }),
  email: Nullable(Type.String({ description: 'The upstream address when linked (shown only; never used for matching)' })),
  created_at: Timestamp,
  last_used_at: Nullable(Timestamp),
})
export const UserIdentities = Type.Object({ items: Type.Array(UserIdentity) })
export const UserIdentityParams = Type.Object({
  id: UUID,
  linkId: Type.String({ ...UUID, description: 'A link id, or a provider id (removes the user\'s links to that provider)' }),
}, { additionalProperties: false })
export const UserIdentitiesRemoved = Type.Object({ user_id: Type.String(), removed: Type.Array(UserIdentity) })

// --- identity providers (federation, issue 16) ---------------------------------------------------

const ProviderSlug = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'Name used in URLs and the CLI (`stamp idp show NAME`)' })
const ClaimName = Type.String({ pattern: '^[A-Za-z0-9_:-]+(\\.[A-Za-z0-9_:-]+)*$', maxLength: 128 })
const ClaimMappingSchema = Type.Object({
  sub: Type.Optional(ClaimName),
  email: Type.Optional(ClaimName),
  email_verified: Type.Optional(ClaimName),
  name: Type.Optional(ClaimName),
  username: Type.Optional(ClaimName),
}, { additionalProperties: false, description: 'Which upstream claim (or userinfo member; dotted paths reach nested objects) fills each local field. Defaults: OIDC claim names; for oauth2, GitHub\'s (`id`, `login`, `email`, `name`)' })
const ProviderKind = Type.Union([Type.Literal('oidc'), Type.Literal('oauth2')], { description: 'oidc: OpenID Connect by discovery from `issuer`; oauth2: plain OAuth 2 with the three endpoints and a claim mapping' })
const UpstreamAuthMethodSchema = Type.Union([Type.Literal('client_secret_basic'), Type.Literal('client_secret_post'), Type.Literal('private_key_jwt'), Type.Literal('none')])

export const IdentityProvider = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  display_name: Type.String({ description: 'Shown on the login page: "Continue with …"' }),
  kind: ProviderKind,
  issuer: Nullable(Type.String()),
  client_id: Type.String(),
  auth_method: UpstreamAuthMethodSchema,
  credential_set: Type.Boolean({ description: 'Whether a client secret or private key is stored (sealed; never returned)' }),
  public_jwk: Nullable(Type.Object({ kty: Type.String(), kid: Type.Optional(Type.String()) }, { additionalProperties: true, description: 'private_key_jwt: the public key to register at the upstream' })),
  scope: Type.String(),
  authorization_endpoint: Nullable(Type.String()),
  token_endpoint: Nullable(Type.String()),
  userinfo_endpoint: Nullable(Type.String()),
  emails_endpoint: Nullable(Type.String({ description: 'oauth2: a GitHub-style address list (`GET /user/emails`: `[{ email, primary, verified }]`) asked when userinfo has no email; the primary verified address is used' })),
  claim_mapping: ClaimMappingSchema,
  jit: Type.Boolean({ description: 'Create a local user on the first sign-in of an unknown upstream identity' }),
  domains: Type.Array(Type.String(), { description: 'Home-realm discovery: a login_hint with one of these email domains goes straight to this provider' }),
  enabled: Type.Boolean(),
  upstream_logout: Type.Boolean({ description: 'Ending the Stamp session also ends the upstream one (RP-initiated logout at its end_session_endpoint)' }),
  redirect_uri: Type.String({ description: 'The redirect URI to register at the upstream' }),
  created_at: Timestamp,
  updated_at: Timestamp,
})
export const IdentityProviderList = Type.Object({ items: Type.Array(IdentityProvider) })
export const IdentityProviderParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$', description: 'Id or name' }) }, { additionalProperties: false })

const providerSettings = {
  display_name: Type.String({ minLength: 1, maxLength: 64 }),
  kind: ProviderKind,
  issuer: Nullable(Type.String({ minLength: 1, maxLength: 2048 })),
  client_id: Type.String({ minLength: 1, maxLength: 512 }),
  client_secret: Type.String({ minLength: 1, maxLength: 4096, writeOnly: true, description: 'Sealed at rest; never returned' }),
  private_key: Type.String({ minLength: 1, maxLength: 16384, writeOnly: true, description: 'private_key_jwt: a private JWK as a JSON string (PEM files go through `stamp idp create --private-key-file`); sealed at rest; never returned' }),
  auth_method: UpstreamAuthMethodSchema,
  scope: Type.String({ maxLength: 1024, description: 'Default "openid email profile" for oidc' }),
  authorization_endpoint: Nullable(Uri),
  token_endpoint: Nullable(Uri),
  userinfo_endpoint: Nullable(Uri),
  emails_endpoint: Nullable(Uri),
  claim_mapping: ClaimMappingSchema,
  jit: Type.Boolean(),
  domains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 50 }),
  enabled: Type.Boolean(),
  upstream_logout: Type.Boolean(),
}
const { client_id: _clientId, ...optionalSettings } = providerSettings
export const CreateIdentityProviderBody = Type.Object({
  slug: ProviderSlug,
  client_id: providerSettings.client_id,
  ...Type.Partial(Type.Object(optionalSettings)).properties,
}, { additionalProperties: false })
export type CreateIdentityProviderBody = Static<typeof CreateIdentityProviderBody>
export const UpdateIdentityProviderBody = Type.Partial(Type.Object(providerSettings), { additionalProperties: false, minProperties: 1 })
export type UpdateIdentityProviderBody = Static<typeof UpdateIdentityProviderBody>
export const IdentityProviderDeleted = Type.Object({ id: Type.String(), slug: Type.String(), links_removed: Type.Integer() })
