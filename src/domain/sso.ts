/**
 * Single sign-on: the decisions behind the authorization endpoint, login and consent pages, and
 * logout, independent of HTTP. Routes translate cookies and forms into calls on this service.
 *
 * - A session is a database row, so every instance sees it and logout ends it everywhere.
 * - An authorization request that needs the user is parked server-side; the browser carries only
 *   its id, bound to a cookie secret, so nothing the user agent sends back is trusted as request data.
 * - Codes are 256-bit random values stored as SHA-256, single use, bound to client, redirect URI,
 *   PKCE challenge, nonce, scope and session.
 *
 * @module
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { Policy } from '../config/defaults.js'
import type {
  AuditEventInput, AuthorizationCodeStore, ClientRecord, ConsentStore, FactorPresence, FirstFactorOwed, NewAuthorizationCode, OwingFactor, OwingFactorRead, PendingAuthorizationRecord, PendingAuthorizationStore,
  SessionRecord, SessionStore, SignInFactorUse, SignInStore, UserRecord, UserStore,
} from '../storage/types.js'
import type { AuthorizationRequest } from './authorization_request.js'
import type { BackchannelLogout } from './backchannel_logout.js'
import { matchRegisteredURI } from './redirect_uris.js'
import { hashSecret, newId, newSecret } from './browser_secrets.js'
import { ClientMetadataError } from './client_metadata.js'
import { allowedForUser } from './scopes.js'
import type { TokenMinter } from './tokens.js'
import { acrFor, requestedACR, sessionSatisfies } from './authentication_methods.js'
import { FAPI2_PROFILE } from './client_assertion.js'

export interface SingleSignOnOptions {
  /** The issuer `minter` signs as (back-channel logout tokens). */
  issuer: string
  policy: Pick<Policy, 'authorizationCodeTTL' | 'authorizationRequestTTL' | 'ssoSessionTTL' | 'parkedRequestsPerBrowser'>
  sessions: SessionStore
  pending: PendingAuthorizationStore
  codes: AuthorizationCodeStore
  /** A completed sign-in's writes, in one transaction (completeSignIn). */
  signIns: SignInStore
  consents: ConsentStore
  users: UserStore
  findClient: (id: string) => Promise<ClientRecord | null>
  minter: TokenMinter
  backchannel: BackchannelLogout
  log: { info(obj: object, msg: string): void, warn(obj: object, msg: string): void }
  now?: () => Date
}

/** The parts of a request that survive parking (what a pending row stores). */
export interface ParkedRequest extends AuthorizationRequest {
  id: string
  sessionId: string | null
  /** Set once a user passed the first factor for this request and owes a second. */
  factorUserId: string | null
  factorAmr: string[]
}

/**
 * The account page signs users in through the same parked-request flow as an application, as
 * this built-in first-party pseudo-client: completing its request returns to the account page
 * instead of issuing a code. The id has a colon, which no admin-registered client id may have.
 */
export const ACCOUNT_CLIENT_ID = 'stamp:account'

export const ACCOUNT_CLIENT: ClientRecord = {
  id: ACCOUNT_CLIENT_ID, name: 'your account', secretHash: null, public: true, firstParty: true, grantTypes: [], redirectUris: [],
  postLogoutRedirectUris: [], backchannelLogoutUri: null, scopes: [], audiences: [], requirePkce: false,
}

export function hashCode (code: string): string {
  return createHash('sha256').update(code).digest('hex')
}

export class SingleSignOn {
  readonly #o: SingleSignOnOptions
  readonly #now: () => Date

  constructor (options: SingleSignOnOptions) {
    this.#o = options
    this.#now = options.now ?? (() => new Date())
  }

  /** The same service (same stores) issuing back-channel logout tokens as `issuer`. */
  withIssuer (issuer: string): SingleSignOn {
    if (issuer === this.#o.issuer) return this
    return new SingleSignOn({ ...this.#o, issuer, minter: this.#o.minter.withIssuer(issuer), now: this.#now })
  }

  /** The live session a cookie secret refers to, with its user (null when absent, ended, expired or the user is disabled). */
  async currentSession (secret: string | undefined): Promise<{ session: SessionRecord, user: UserRecord } | null> {
    if (!secret) return null
    const session = await this.#o.sessions.findActiveByTokenHash(hashSecret(secret), this.#now())
    if (!session) return null
    const user = await this.#o.users.findById(session.userId)
    if (!user || user.disabled) return null
    return { session, user }
  }

  /**
   * Whether the user must (re-)authenticate: no session, `prompt=login` not yet satisfied for
   * this request, or the session's authentication is older than `max_age` (OIDC Core §3.1.2.1).
   */
  loginRequired (current: { session: SessionRecord } | null, request: { prompt: string[], maxAge?: number }): boolean {
    if (!current) return true
    if (request.prompt.includes('login')) return true
    if (request.maxAge !== undefined && this.#now().getTime() - current.session.authTime.getTime() > request.maxAge * 1000) return true
    return false
  }

  /**
   * Whether the session's authentication is too weak for this request: `acr_values` asks for a
   * stronger class, or MFA is required (globally, by the client, for the user) and the session
   * was single-factor. The user is then prompted again (a step-up, OIDC Core §3.1.2.1 acr_values).
   */
  stepUpRequired (session: SessionRecord, request: { acrValues: readonly string[] }, mfaRequired: boolean): boolean {
    return !sessionSatisfies(session, { requested: requestedACR(request.acrValues), mfaRequired })
  }

  /** The scopes this user can grant this client, in request order (RFC 6749 §3.3 lets the server narrow them). */
  grantableScopes (client: ClientRecord, user: UserRecord, scopes: readonly string[]): string[] {
    const allowed = allowedForUser(client.scopes, user.scopes)
    return scopes.filter((s) => allowed.includes(s))
  }

  /**
   * First-party clients never ask; others ask until the user approved every scope (or on
   * prompt=consent). `rememberedCounts: false` ignores what the user approved before (RFC 8252
   * §8.6, a public native client answered without any user interaction).
   */
  async consentRequired (client: ClientRecord, user: UserRecord, scopes: readonly string[], prompt: readonly string[], rememberedCounts = true): Promise<boolean> {
    if (client.firstParty) return false
    // Self-registered clients (metadata documents, RFC 7591) are anyone's: the user decides every time.
    if (client.origin === 'cimd' || client.origin === 'dcr') return true
    if (prompt.includes('consent') || !rememberedCounts) return true
    const granted = await this.#o.consents.granted(user.id, client.id)
    return scopes.some((s) => !granted.includes(s))
  }

  async rememberConsent (user: UserRecord, client: ClientRecord, scopes: string[]): Promise<void> {
    await this.#o.consents.grant(user.id, client.id, scopes)
  }

  /** Parks a request until the user has signed in or consented; returns its id. */
  async park (request: AuthorizationRequest, browserSecret: string, sessionId: string | null): Promise<string> {
    const id = newId()
    await this.#o.pending.create({
      id,
      browserHash: hashSecret(browserSecret),
      clientId: request.client.id,
      redirectUri: request.redirectUri,
      redirectUriSent: request.redirectUriSent,
      scope: request.scopes.join(' '),
      state: request.state ?? null,
      nonce: request.nonce ?? null,
      codeChallenge: request.codeChallenge ?? null,
      codeChallengeMethod: request.codeChallengeMethod ?? null,
      prompt: request.prompt,
      maxAge: request.maxAge ?? null,
      loginHint: request.loginHint ?? null,
      acrValues: request.acrValues,
      factorUserId: null,
      factorAmr: [],
      dpopJkt: request.dpopJkt ?? null,
      sessionId,
      expiresAt: new Date(this.#now().getTime() + this.#o.policy.authorizationRequestTTL * 1000),
    }, { keepPerBrowser: this.#o.policy.parkedRequestsPerBrowser })
    return id
  }

  /**
   * Parks a sign-in for the account page (`returnTo` is where completing it leads): `prompt`
   * login forces a fresh authentication (recent authentication for sensitive changes).
   */
  async parkAccountSignIn (browserSecret: string, returnTo: string, options: { prompt?: string[], loginHint?: string } = {}): Promise<string> {
    return this.park({
      client: ACCOUNT_CLIENT, redirectUri: returnTo, redirectUriSent: false, scopes: [], prompt: options.prompt ?? [], loginHint: options.loginHint, acrValues: [],
    }, browserSecret, null)
  }

  /** A parked request, when it exists, has not expired, and belongs to this browser. */
  async parked (id: string | undefined, browserSecret: string | undefined): Promise<ParkedRequest | null> {
    if (!id || !browserSecret) return null
    return this.#parkedFrom(await this.#o.pending.find(id, this.#now()), browserSecret)
  }

  /**
   * A parked request as {@link parked} finds it, whose user passed the first factor and still
   * exists, with that user and what `read` names of the user's factors: one read for the second
   * step's page and form instead of the request, then the user beside the factors.
   */
  async parkedOwingFactor (id: string | undefined, browserSecret: string | undefined, read?: OwingFactorRead): Promise<(Omit<OwingFactor, 'request'> & { parked: ParkedRequest }) | null> {
    if (!id || !browserSecret) return null
    const found = await this.#o.pending.findOwingFactor(id, this.#now(), read)
    if (!found) return null
    const parked = await this.#parkedFrom(found.request, browserSecret)
    if (!parked) return null
    return { parked, user: found.user, presence: found.presence, totp: found.totp }
  }

  async #parkedFrom (row: PendingAuthorizationRecord | null, browserSecret: string): Promise<ParkedRequest | null> {
    if (!row || row.browserHash !== hashSecret(browserSecret)) return null
    if (row.clientId === ACCOUNT_CLIENT_ID) return toParked(row, ACCOUNT_CLIENT)
    let client: ClientRecord | null
    try {
      client = await this.#o.findClient(row.clientId)
    } catch (err) {
      // A metadata document client that became unusable (blocked, document gone) mid-flow.
      if (err instanceof ClientMetadataError) return null
      throw err
    }
    // Still registered (loopback http with any port, RFC 8252 §7.3, as /authorize matched it).
    if (!client || matchRegisteredURI(client.redirectUris, row.redirectUri) === undefined) return null
    return toParked(row, client)
  }

  /**
   * Signs the user in and returns the session's new cookie secret: every successful
   * authentication gets a new one, so a cookie copied earlier does not ride on the victim's next
   * sign-in to pass `max_age` or `prompt=login` (OWASP Session Management: renew the session ID
   * after any privilege change). Re-authenticating the same user keeps the session (and its
   * `sid`, which clients already hold) and updates `auth_time`; anyone else gets a new session,
   * and the previous user's session is logged out.
   */
  async signIn (user: UserRecord, current: { session: SessionRecord, user: UserRecord } | null, amr: string[]): Promise<{ session: SessionRecord, secret: string }> {
    const now = this.#now()
    const acr = acrFor(amr)
    if (current && current.user.id === user.id) {
      const secret = newSecret()
      const tokenHash = hashSecret(secret)
      await this.#o.sessions.reauthenticate(current.session.id, tokenHash, now, amr, acr)
      return { session: { ...current.session, tokenHash, authTime: now, amr, acr }, secret }
    }
    if (current) await this.logout(current.session.id)
    const secret = newSecret()
    const session = await this.#o.sessions.create({
      id: newId(),
      tokenHash: hashSecret(secret),
      userId: user.id,
      authTime: now,
      amr,
      acr,
      expiresAt: new Date(now.getTime() + this.#o.policy.ssoSessionTTL * 1000),
    })
    this.#o.log.info({ event: 'sso_session_started', sid: session.id, user_id: user.id }, 'user signed in')
    return { session, secret }
  }

  /**
   * Completes a sign-in for a parked request, every write in one transaction (SignInStore): the
   * factor it consumes (`factor`: refused → nothing written), the parked request (marked
   * authenticated when `consent` is still to be asked, else taken, with a code unless it is the
   * account page's), the session (new, or the same user's re-authenticated with a new secret, as
   * in {@link signIn}), this browser's parked requests moved to `newBrowserSecret`, and the audit
   * `events`. A session of another user in this browser is logged out once the sign-in committed.
   */
  async completeSignIn (input: {
    parked: ParkedRequest, user: UserRecord, current: { session: SessionRecord, user: UserRecord } | null, amr: string[],
    browserSecret: string, newBrowserSecret: string, consent: boolean, factor?: SignInFactorUse,
    events: (found: { recoveryCodesLeft?: number }) => AuditEventInput[],
  }): Promise<{ ok: true, session: SessionRecord, secret: string, code?: string, events: AuditEventInput[] } | { ok: false, reason: 'factor_refused' | 'request_gone' }> {
    const { parked, user, current, amr } = input
    const now = this.#now()
    const acr = acrFor(amr)
    const secret = newSecret()
    const tokenHash = hashSecret(secret)
    const same = current !== null && current.user.id === user.id
    const sessionId = same ? current.session.id : newId()
    const withCode = !input.consent && parked.client.id !== ACCOUNT_CLIENT_ID
    const code = withCode ? randomBytes(32).toString('base64url') : undefined
    const outcome = await this.#o.signIns.complete({
      factor: input.factor,
      session: same
        ? { reauthenticate: { id: sessionId, tokenHash, authTime: now, amr, acr } }
        : { create: { id: sessionId, tokenHash, userId: user.id, authTime: now, amr, acr, expiresAt: new Date(now.getTime() + this.#o.policy.ssoSessionTTL * 1000) } },
      rebind: { browserHash: hashSecret(input.browserSecret), newBrowserHash: hashSecret(input.newBrowserSecret) },
      request: input.consent
        ? { id: parked.id, then: 'authenticated' }
        : { id: parked.id, then: 'taken', code: code === undefined ? undefined : this.#newCode(code, parked, { id: sessionId, authTime: now, amr, acr }, user, now) },
      events: input.events,
    })
    if (!outcome.ok) return outcome
    if (!same) {
      this.#o.log.info({ event: 'sso_session_started', sid: sessionId, user_id: user.id }, 'user signed in')
      if (current) await this.logout(current.session.id)
    }
    return { ok: true, session: outcome.session, secret, code, events: outcome.events }
  }

  /** Moves this browser's parked requests to its new binding secret (rotated at sign-in). */
  async rebindBrowser (oldSecret: string, newSecret: string): Promise<void> {
    await this.#o.pending.rebind(hashSecret(oldSecret), hashSecret(newSecret))
  }

  /** Records the first factor for a parked request, with its audit `events`; the second factor completes it. */
  async firstFactorPassed (requestId: string, userId: string, amr: string[], events: readonly AuditEventInput[] = []): Promise<void> {
    await this.#o.pending.firstFactor(requestId, userId, amr, events)
  }

  /**
   * After a password: the user's factors and, when a step is owed for them (`owed`), the first
   * factor's mark with its audit `events`, in one statement ({@link PendingAuthorizationStore.firstFactorIfOwed}).
   */
  firstFactorIfOwed (requestId: string, userId: string, amr: string[], events: readonly AuditEventInput[], owed: FirstFactorOwed): Promise<{ presence: FactorPresence, marked: boolean }> {
    return this.#o.pending.firstFactorIfOwed(requestId, userId, amr, events, owed)
  }

  async markAuthenticated (requestId: string, sessionId: string): Promise<void> {
    await this.#o.pending.authenticated(requestId, sessionId)
  }

  /** Completes a parked request once (a double-submitted form loses the race and gets false). */
  async takeParked (id: string): Promise<boolean> {
    return this.#o.pending.take(id)
  }

  /**
   * RFC 6749 §4.1.2: issues a code and returns the redirect parameters. The code is bound to
   * everything the token request must match; the refresh family it will start is fixed now, so a
   * replayed code can revoke it (§4.1.2: "SHOULD revoke (when possible) all tokens previously
   * issued based on that authorization code").
   */
  async issueCode (request: Omit<ParkedRequest, 'id' | 'prompt' | 'maxAge' | 'loginHint' | 'sessionId' | 'acrValues' | 'factorUserId' | 'factorAmr'>, session: SessionRecord, user: UserRecord): Promise<{ code: string, scope: string }> {
    const code = randomBytes(32).toString('base64url')
    const record = this.#newCode(code, request, session, user, this.#now())
    await this.#o.codes.create(record)
    await this.#o.sessions.addClient(session.id, request.client.id)
    return { code, scope: record.scope }
  }

  #newCode (code: string, request: Omit<ParkedRequest, 'id' | 'prompt' | 'maxAge' | 'loginHint' | 'sessionId' | 'acrValues' | 'factorUserId' | 'factorAmr'>, session: Pick<SessionRecord, 'id' | 'authTime' | 'amr' | 'acr'>, user: UserRecord, now: Date): NewAuthorizationCode {
    return {
      codeHash: hashCode(code),
      clientId: request.client.id,
      userId: user.id,
      sessionId: session.id,
      redirectUri: request.redirectUri,
      redirectUriSent: request.redirectUriSent,
      scope: this.grantableScopes(request.client, user, request.scopes).join(' '),
      nonce: request.nonce ?? null,
      codeChallenge: request.codeChallenge ?? null,
      codeChallengeMethod: request.codeChallengeMethod ?? null,
      dpopJkt: request.dpopJkt ?? null,
      authTime: session.authTime,
      amr: session.amr,
      acr: session.acr,
      familyId: randomUUID(),
      expiresAt: new Date(now.getTime() + codeLifetime(request.client, this.#o.policy.authorizationCodeTTL) * 1000),
    }
  }

  /**
   * Ends a session everywhere: marks it ended, revokes the refresh-token families bound to it
   * (one transaction), then notifies each participating client that registered a
   * back-channel logout URI, in the background.
   */
  async logout (sessionId: string): Promise<boolean> {
    const ended = await this.#o.sessions.end(sessionId, this.#now())
    if (!ended) return false
    const { session, refreshFamiliesRevoked } = ended
    this.#o.log.info({ event: 'sso_session_ended', sid: session.id, user_id: session.userId, refresh_families_revoked: refreshFamiliesRevoked }, 'user signed out')
    for (const clientId of session.clientIds) {
      const client = await this.#o.findClient(clientId)
      if (!client?.backchannelLogoutUri) continue
      this.#o.backchannel.notify({
        clientId,
        uri: client.backchannelLogoutUri,
        token: () => this.#o.minter.logoutToken({ sub: session.userId, clientId, sid: session.id }),
      })
    }
    return true
  }

  /**
   * Ends every live session of a user ("sign out everywhere"), each as `logout` does: its
   * refresh-token families are revoked and its clients get back-channel logout tokens.
   * Returns the number of sessions ended.
   */
  async logoutUser (userId: string): Promise<number> {
    let ended = 0
    // Ended sessions drop out of the live list, so the first page is re-read until it is empty.
    for (;;) {
      const sessions = await this.#o.sessions.listActiveForUser(userId, { limit: 100 }, this.#now())
      if (!sessions.length) return ended
      for (const session of sessions) if (await this.logout(session.id)) ended++
    }
  }

  async findSession (id: string): Promise<SessionRecord | null> {
    return this.#o.sessions.find(id)
  }
}

function toParked (row: PendingAuthorizationRecord, client: ClientRecord): ParkedRequest {
  return {
    id: row.id,
    client,
    redirectUri: row.redirectUri,
    redirectUriSent: row.redirectUriSent,
    scopes: row.scope.split(' ').filter(Boolean),
    state: row.state ?? undefined,
    nonce: row.nonce ?? undefined,
    codeChallenge: row.codeChallenge ?? undefined,
    codeChallengeMethod: row.codeChallengeMethod ?? undefined,
    prompt: row.prompt,
    maxAge: row.maxAge ?? undefined,
    loginHint: row.loginHint ?? undefined,
    acrValues: row.acrValues,
    factorUserId: row.factorUserId,
    factorAmr: row.factorAmr,
    dpopJkt: row.dpopJkt ?? undefined,
    sessionId: row.sessionId,
  }
}

/** FAPI 2.0 Security Profile §5.3.2.1: "shall issue authorization codes with a maximum lifetime of 60 seconds". */
export const FAPI2_MAX_CODE_LIFETIME = 60

/** Seconds an authorization code for `client` lives: the policy, capped for the fapi2 profile. */
export function codeLifetime (client: { profile?: string | null }, policyTTL: number): number {
  return client.profile === FAPI2_PROFILE ? Math.min(policyTTL, FAPI2_MAX_CODE_LIFETIME) : policyTTL
}
