/**
 * Policy defaults: every lifetime, algorithm and protocol choice Stamp makes, in one place.
 *
 * Deployment settings (ports, URLs, secrets) live in `config/env.ts`; this file is policy.
 * The README's configuration table documents both.
 *
 * @module
 */

export const defaults = {
  /** Access token lifetime in seconds (RFC 9068 tokens are short-lived bearer credentials). */
  accessTokenTTL: 300,
  /** Refresh token lifetime in seconds. */
  refreshTokenTTL: 86_400,
  /**
   * Seconds after a refresh token was consumed during which the same client presenting it again
   * gets the same successor back (a retry after a lost answer or a crashed instance): no second
   * live token, no reuse event. Presented after that, or once the successor was used, it is reuse
   * (RFC 9700 §4.14.2) and the family is revoked. 0 = every second presentation is reuse.
   */
  refreshRetrySeconds: 10,
  /**
   * Absolute lifetime of a refresh-token family in seconds, counted from the login that started it:
   * a family refreshed every day still ends (the user signs in again). 30 days.
   */
  refreshFamilyMaxAge: 30 * 86_400,
  /** JWS algorithm for new signing keys. */
  signingAlg: 'RS256' as SigningAlg,
  /** `Cache-Control: max-age` for the JWKS, in seconds; also what verifiers may cache. */
  jwksMaxAge: 300,
  /** Clock skew allowance, in seconds, added when deciding a retiring key can be dropped. */
  clockSkew: 60,
  /** How often, in seconds, the active key is replaced by the pre-published next key. */
  keyRotationInterval: 30 * 86_400,
  /** How often, in seconds, each instance re-reads the key set (picks up rotations made elsewhere). */
  keyRefreshInterval: 5,
  /** How long, in seconds, a client record is cached in memory by each instance. */
  clientCacheTTL: 5,
  /** argon2id parameters (OWASP Password Storage Cheat Sheet: m ≥ 19 MiB, t ≥ 2, p = 1). */
  argon2: { memoryCost: 19_456, timeCost: 2, parallelism: 1 },
  /** Largest accepted request body, in bytes. */
  bodyLimit: 16_384,
  /** Password policy: NIST SP 800-63B §3.1.1.2 asks for at least 8 characters and a blocklist check. */
  password: {
    /**
     * Shortest accepted password, in characters, for a user without a second factor: NIST SP
     * 800-63B-4 §3.1.1.2 "SHALL require passwords used as a single-factor authentication
     * mechanism to be a minimum of 15 characters in length".
     */
    minLength: 15,
    /** Shortest accepted password for a user with a second factor (§3.1.1.2: "a minimum of 8 characters"). */
    minLengthWithSecondFactor: 8,
    /** Longest accepted password, in characters (long enough for passphrases, short enough to bound hashing input). */
    maxLength: 256,
    /** Refuse the passwords of the bundled common-password list (assets/common_passwords.txt). */
    rejectCommon: true,
  },
  /** Second factors (TOTP, passkeys, recovery codes) and the account page. */
  mfa: {
    /** MFA: off | optional | required (see README). */
    mode: 'optional' as 'off' | 'optional' | 'required',
    /** Seconds a WebAuthn challenge (passkey registration or sign-in) stays valid. */
    challengeTTL: 300,
    /** Seconds after a sign-in during which the account page allows sensitive changes without signing in again. */
    recentAuthentication: 300,
  },
  /**
   * Per-account login throttling (password grant, later /login): exponential back-off, never a
   * lock-out. Failures are counted per (username, client IP) and, more leniently, per username.
   */
  loginThrottle: {
    /** Failures per (username, IP) allowed before any delay. */
    freeAttempts: 5,
    /** Failures per username, from any IP, allowed before any delay (distributed guessing). */
    accountFreeAttempts: 50,
    /** First delay in seconds; doubles with every further failure. */
    baseDelay: 1,
    /** Longest delay, in seconds, imposed per (username, IP). */
    maxDelay: 900,
    /** Longest delay, in seconds, imposed per username across IPs: small, so an attacker cannot shut the real user out. */
    accountMaxDelay: 30,
    /** Seconds without a failure after which the counters are forgotten. */
    window: 3600,
  },
  /** Request rate limits per client IP, per window (brute force and abuse). */
  rateLimit: {
    enabled: true,
    /** Window, in seconds. */
    window: 60,
    /** /token, /revoke, /introspect. */
    token: 300,
    /** /admin. */
    admin: 120,
    /** Interactive login forms (/login). */
    login: 30,
    /** /authorize: each anonymous request that needs a sign-in parks a row. */
    authorize: 120,
    /** /userinfo: relying parties call it from their servers, so one address speaks for many users. */
    userinfo: 600,
    /** Forms that send mail or create accounts (forgot password, sign-up): each may cost a mail. */
    account: 10,
  },
  /**
   * Links sent by mail (password reset, address verification, invitations): single use, stored
   * as SHA-256 only. OWASP Forgot Password Cheat Sheet: short-lived, one use, same answer whether
   * or not the address is known.
   */
  accounts: {
    /** Seconds a password reset link is valid. */
    resetLinkTTL: 1800,
    /** Seconds an address verification link is valid. */
    verifyLinkTTL: 1800,
    /** Seconds an invitation link is valid (7 days). */
    inviteTTL: 7 * 86_400,
    /** Mails of one kind (reset, verification) per address within `mailWindow`; more are silently not sent. */
    mailsPerAddress: 3,
    /** Seconds of the per-address mail window. */
    mailWindow: 3600,
  },
  /** Authorization code lifetime in seconds (RFC 6749 §4.1.2: "A maximum ... of 10 minutes is RECOMMENDED"; codes are exchanged at once). */
  authorizationCodeTTL: 60,
  /**
   * RFC 8628 device authorization grant: device/user code lifetime and the polling interval
   * (seconds); brute force on user codes: after `browserFailures` wrong codes from one browser, or
   * `ipFailures` from one IP address, within `failureWindow`, the device pages refuse that browser
   * (or address) for `blockSeconds` after the last failure. User codes: `userCodeLength`
   * characters from `userCodeAlphabet` (§6.1's example: 8 of 20 consonants, 2^34.6 codes, no word
   * can be spelled). `verificationUri`: where users type the code (§3.2 `verification_uri`; null:
   * the issuer's `/device`), e.g. a short URL that redirects there.
   */
  deviceFlow: {
    codeTTL: 600, interval: 5, browserFailures: 5, ipFailures: 50, failureWindow: 3600, blockSeconds: 900,
    userCodeLength: 8, userCodeAlphabet: 'BCDFGHJKLMNPQRSTVWXZ', verificationUri: null as string | null,
  },
  /** How long, in seconds, a user may take to sign in or consent before the request expires. */
  authorizationRequestTTL: 600,
  /**
   * Parked authorization requests kept per browser; parking one more drops the oldest. Dropping
   * (rather than refusing the new one) never locks a user out who left tabs behind: the request
   * they act on now is the newest, and an abandoned one is the least likely to be completed.
   */
  parkedRequestsPerBrowser: 10,
  /** Absolute lifetime of a single sign-on session, in seconds (the user signs in again afterwards). */
  ssoSessionTTL: 43_200,
  /**
   * OIDC Back-Channel Logout delivery: attempts per client, per-attempt timeout and the first retry
   * delay (doubled each retry), in milliseconds. Delivery never blocks the user's logout.
   */
  backchannelLogout: { attempts: 3, timeoutMs: 5_000, backoffMs: 1_000 },
  /** `Retry-After`, in seconds, of the 503 answered while the database is unreachable. */
  outageRetryAfter: 5,
  /** How often, in seconds, each instance compares its clock with PostgreSQL's (the clock guard). */
  clockCheckInterval: 30,
  /**
   * Retention: a purge pass deletes rows that can no longer matter, in small batches, on one
   * instance at a time (PostgreSQL advisory lock). See docs/production.md, "Retention".
   */
  purge: {
    /** Seconds between scheduled passes on each instance (each delay drawn ±10 % at random); 0 = none (run `stamp purge`). */
    interval: 600,
    /**
     * Seconds a dead row is kept after it died: refresh tokens after they were consumed, revoked
     * or expired, sessions after they ended or expired, codes after they expired. Longer than any
     * retry window (`refreshRetrySeconds` is at most 60), so a row that a retry still needs is there.
     */
    margin: 3600,
    /** Seconds an audit event is kept (90 days); 0 keeps every event. */
    auditRetention: 90 * 86_400,
    /** Rows per DELETE statement: short statements, short row locks. */
    batchSize: 1000,
    /** At most this many DELETE statements per pass. */
    maxBatches: 500,
    /** Seconds a pass may work; what is left waits for the next pass. */
    timeBudget: 10,
  },
  /**
   * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): fetching a
   * client's JSON document from its https client_id. Small and fast, because any request can
   * make Stamp fetch one.
   */
  clientMetadata: {
    /** Whole-fetch timeout (connect, TLS, headers and body), in milliseconds. */
    timeoutMs: 2_000,
    /** Largest accepted document, in bytes (the draft suggests 5 KB). */
    maxBytes: 5_120,
    /** Shortest time, in seconds, a document is cached, whatever its Cache-Control says (no-store included). */
    cacheFloor: 60,
    /** Longest time, in seconds, a document is cached (a client's changes show within this). */
    cacheCeiling: 86_400,
    /** Cache time, in seconds, when the response has no Cache-Control max-age. */
    cacheDefault: 300,
    /** Seconds a failed fetch is remembered (no refetch storm for a broken or hostile URL). */
    failureCacheSeconds: 10,
    /** Fetches in flight per instance; more are refused at once (requests naming many distinct URLs cannot pile up). */
    maxConcurrentFetches: 16,
  },
  /**
   * Self-registered clients (RFC 7591 dynamic registration and client ID metadata documents):
   * always third-party, so consent is always asked, and never the password grant or `stamp:` scopes.
   */
  registration: {
    /** Grant types a dynamically registered client may ask for. */
    grantTypes: ['authorization_code', 'refresh_token'] as readonly string[],
    /** Token endpoint authentication methods a dynamically registered client may ask for (private_key_jwt with `jwks` or `jwks_uri`). */
    authMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as readonly string[],
    /** Scopes such clients may ask for (REGISTRATION_SCOPES); a document or registration naming none gets all of them. */
    scopes: ['openid', 'profile', 'email', 'offline_access'] as readonly string[],
    /** RFC 8707 resources (e.g. MCP servers) such clients may get tokens for (REGISTRATION_AUDIENCES). */
    audiences: [] as readonly string[],
    /** Scope prefixes such clients never get (the admin API's `stamp:admin`). */
    reservedScopePrefixes: ['stamp:'] as readonly string[],
    /** Redirect URIs: https, or http on a loopback address with any port (RFC 8252 §7.3). */
    allowLoopbackHttp: true,
    /** Most redirect URIs per client. */
    maxRedirectUris: 10,
    /** Requests per window and IP to /register (and its management endpoint). */
    rateLimit: 20,
    /** Seconds between two last-use writes for one client (a token request is not a database write each time). */
    lastUseInterval: 3_600,
  },
  /**
   * Keys clients sign with: private_key_jwt client assertions (RFC 7523 §3, OIDC Core §9) and
   * signed request objects (RFC 9101). A client's registered `jwks_uri` is fetched like a client
   * metadata document (SSRF-hardened, small, fast), cached, and refetched on an unknown `kid`.
   */
  clientKeys: {
    /** Longest accepted client assertion: its `exp` at most this many seconds ahead. */
    assertionMaxLifetime: 300,
    /** Longest accepted request object: its `exp` at most this many seconds ahead. */
    requestObjectMaxLifetime: 600,
    /** Seconds of clock difference tolerated on `exp`, `nbf` and `iat`. */
    clockSkew: 30,
    /** Whole-fetch timeout of a client's JWKS, milliseconds. */
    jwksTimeoutMs: 2_000,
    /** Largest accepted client JWKS document, bytes. */
    jwksMaxBytes: 32_768,
    /** Most keys in a client's set. */
    maxKeys: 20,
    /** Seconds a fetched client JWKS is used before it is fetched again. */
    jwksCacheSeconds: 300,
    /** Seconds between two fetches of one client's JWKS caused by an unknown `kid` (nobody can make Stamp fetch in a loop). */
    jwksRefetchCooldown: 30,
  },
  /** RFC 9126 pushed authorization requests at /par. */
  pushedAuthorizationRequests: {
    /** Every client must push its authorization requests (RFC 9126 §5 `require_pushed_authorization_requests`). */
    required: false,
    /** Lifetime of a `request_uri`, seconds (RFC 9126 §2.2: "a short lifetime"). */
    ttl: 60,
  },
  /** DPoP (RFC 9449): sender-constrained tokens. */
  dpop: {
    /** JWS algorithms accepted for proofs (§4.3: asymmetric only; never `none` or HMAC); advertised as `dpop_signing_alg_values_supported`. */
    algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'] as readonly string[],
    /** Seconds a proof's `iat` may lie before or after the server's clock (§4.3 item 11, §11.1); its `jti` is remembered that long after `iat`. */
    proofWindow: 60,
    /** Require server-provided nonces in proofs (§8, §9): `use_dpop_nonce` with a `DPoP-Nonce` header until the client sends one. */
    nonce: false,
    /** Seconds one nonce is issued before the next replaces it; a nonce is accepted for twice this long. */
    nonceLifetime: 300,
  },
  /** Sign-in with upstream identity providers (docs/federation.md). */
  federation: {
    /** Whole-exchange timeout of one upstream request (discovery, JWKS, token, userinfo), in milliseconds. */
    timeoutMs: 5_000,
    /** Largest upstream response accepted, in bytes. */
    maxBytes: 262_144,
    /** Seconds a provider's discovered metadata (and its JWKS cache) is kept before being fetched again. */
    discoveryTTL: 3_600,
    /** Seconds an upstream round trip (`state`, `nonce`, PKCE verifier) may take. */
    stateTTL: 600,
    /** Seconds a pending link waits for the local sign-in that proves the account is the user's. */
    pendingLinkTTL: 600,
  },
} as const

export type SigningAlg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA'
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'PS256', 'ES256', 'EdDSA']

export type Policy = {
  accessTokenTTL: number
  refreshTokenTTL: number
  refreshRetrySeconds: number
  refreshFamilyMaxAge: number
  signingAlg: SigningAlg
  jwksMaxAge: number
  clockSkew: number
  keyRotationInterval: number
  keyRefreshInterval: number
  clientCacheTTL: number
  argon2: { memoryCost: number, timeCost: number, parallelism: number }
  bodyLimit: number
  password: { minLength: number, minLengthWithSecondFactor: number, maxLength: number, rejectCommon: boolean }
  mfa: { mode: 'off' | 'optional' | 'required', challengeTTL: number, recentAuthentication: number }
  loginThrottle: { freeAttempts: number, accountFreeAttempts: number, baseDelay: number, maxDelay: number, accountMaxDelay: number, window: number }
  rateLimit: { enabled: boolean, window: number, token: number, admin: number, login: number, authorize: number, userinfo: number, account: number }
  accounts: { resetLinkTTL: number, verifyLinkTTL: number, inviteTTL: number, mailsPerAddress: number, mailWindow: number }
  authorizationCodeTTL: number
  deviceFlow: {
    codeTTL: number, interval: number, browserFailures: number, ipFailures: number, failureWindow: number, blockSeconds: number
    userCodeLength: number, userCodeAlphabet: string, verificationUri: string | null
  }
  authorizationRequestTTL: number
  parkedRequestsPerBrowser: number
  ssoSessionTTL: number
  backchannelLogout: { attempts: number, timeoutMs: number, backoffMs: number }
  outageRetryAfter: number
  clockCheckInterval: number
  purge: { interval: number, margin: number, auditRetention: number, batchSize: number, maxBatches: number, timeBudget: number }
  clientMetadata: { timeoutMs: number, maxBytes: number, cacheFloor: number, cacheCeiling: number, cacheDefault: number, failureCacheSeconds: number, maxConcurrentFetches: number }
  clientKeys: {
    assertionMaxLifetime: number
    requestObjectMaxLifetime: number
    clockSkew: number
    jwksTimeoutMs: number
    jwksMaxBytes: number
    maxKeys: number
    jwksCacheSeconds: number
    jwksRefetchCooldown: number
  }
  pushedAuthorizationRequests: { required: boolean, ttl: number }
  dpop: { algorithms: readonly string[], proofWindow: number, nonce: boolean, nonceLifetime: number }
  federation: { timeoutMs: number, maxBytes: number, discoveryTTL: number, stateTTL: number, pendingLinkTTL: number }
  registration: {
    grantTypes: readonly string[]
    authMethods: readonly string[]
    scopes: readonly string[]
    audiences: readonly string[]
    reservedScopePrefixes: readonly string[]
    allowLoopbackHttp: boolean
    maxRedirectUris: number
    rateLimit: number
    lastUseInterval: number
  }
}
