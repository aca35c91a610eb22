/**
 * Federated sign-in, independent of HTTP: Stamp as a relying party of an upstream provider, and
 * the decisions about which local user an upstream identity is.
 *
 * - `begin`: a `state` (CSRF, RFC 6749 §10.12), a `nonce` (OIDC Core §3.1.2.1) and a PKCE S256
 *   verifier (RFC 7636) per round trip, stored server-side (the state hashed) and bound to the
 *   browser's binding secret and to the parked authorization request.
 * - `finish`: the state is taken with one DELETE (single use) and must belong to this browser;
 *   openid-client then checks the authorization response (state, `iss` per RFC 9207), exchanges
 *   the code with the verifier, and validates the ID Token (signature against the upstream JWKS,
 *   `iss`, `aud`, `exp`, `nonce`).
 * - `resolve`: the link (provider, upstream `sub`) decides; an email matching a local account is
 *   never enough (that is an account takeover whenever the upstream lets anyone claim an address):
 *   it becomes a pending link the account's owner confirms by signing in locally (any local way:
 *   {@link Federation.sessionEstablished}), or from a mail to the account's verified address
 *   ({@link Federation.confirmByMail}).
 *
 * @module
 */
import { createHash } from 'node:crypto'
import * as oidc from 'openid-client'
import type { Policy } from '../../config/defaults.js'
import { open, seal, type KEK } from '../../crypto/kek.js'
import type { AuditLog } from '../audit.js'
import { hashSecret, newId, secretMatches } from '../browser_secrets.js'
import { NO_PASSWORD } from '../passwords.js'
import { heldIdTokenAAD, upstreamSessionAAD } from '../sealed_values.js'
import type { FederatedIdentityRecord, FederationStore, IdentityProviderRecord, PendingLinkRecord, UserRecord, UserStore } from '../../storage/types.js'
import { ClaimMappingError, mapClaims, usernameCandidates, type UpstreamIdentity } from './claims.js'
import type { IdentityProviders } from './providers.js'
import { classify, type UpstreamClients, type UpstreamFailure } from './upstream.js'

export type FinishFailure = 'state' | 'upstream_error' | 'disabled' | 'claims' | UpstreamFailure

export type FinishResult =
  | { ok: true, provider: IdentityProviderRecord, requestId: string, identity: UpstreamIdentity, idToken?: string }
  | { ok: false, reason: FinishFailure, requestId?: string, provider?: IdentityProviderRecord, upstreamError?: string, detail?: string }

export type Resolution =
  | { kind: 'user', user: UserRecord, link: FederatedIdentityRecord, created: boolean }
  | { kind: 'link_required', user: UserRecord }
  | { kind: 'no_account' }
  | { kind: 'disabled', user: UserRecord }

export interface FederationOptions {
  store: FederationStore
  providers: IdentityProviders
  upstream: UpstreamClients
  users: UserStore
  audit: AuditLog
  kek: KEK
  policy: Policy['federation']
  log: { info(obj: object, msg: string): void, warn(obj: object, msg: string): void }
  now?: () => Date
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')

export class Federation {
  readonly #o: FederationOptions
  readonly #now: () => Date

  constructor (options: FederationOptions) {
    this.#o = options
    this.#now = options.now ?? (() => new Date())
  }

  get providers (): IdentityProviders {
    return this.#o.providers
  }

  #expires (seconds: number): Date {
    return new Date(this.#now().getTime() + seconds * 1000)
  }

  /** The upstream authorization URL for a parked request; throws UpstreamError when discovery fails. */
  async begin (input: { provider: IdentityProviderRecord, requestId: string, browser: string, redirectUri: string, loginHint?: string, locale?: string }): Promise<URL> {
    const { provider } = input
    let config: oidc.Configuration
    try {
      config = await this.#o.upstream.configuration(provider)
    } catch (err) {
      throw classify(err)
    }
    const state = oidc.randomState()
    const verifier = oidc.randomPKCECodeVerifier()
    const nonce = provider.kind === 'oidc' ? oidc.randomNonce() : null
    await this.#o.store.createState({
      stateHash: sha256(state), purpose: 'login', browserHash: sha256(input.browser), requestId: input.requestId, providerId: provider.id,
      nonce, codeVerifier: verifier, returnTo: null, idTokenEnc: null, expiresAt: this.#expires(this.#o.policy.stateTTL),
    })
    const params: Record<string, string> = {
      redirect_uri: input.redirectUri,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }
    if (provider.scope) params.scope = provider.scope
    if (nonce) params.nonce = nonce
    if (input.loginHint && provider.kind === 'oidc') params.login_hint = input.loginHint
    if (input.locale && provider.kind === 'oidc') params.ui_locales = input.locale
    return oidc.buildAuthorizationUrl(config, params)
  }

  /** Handles the upstream's redirect back (`callback` is the full URL it redirected to). */
  async finish (input: { callback: URL, browser: string | undefined }): Promise<FinishResult> {
    const state = input.callback.searchParams.get('state')
    const row = state ? await this.#o.store.takeState(sha256(state), this.#now()) : null
    if (!row || row.purpose !== 'login' || !row.requestId || !secretMatches(input.browser, row.browserHash)) {
      return { ok: false, reason: 'state', detail: !state ? 'no state' : !row ? 'unknown, used or expired state' : 'state of another browser' }
    }
    const requestId = row.requestId
    const provider = await this.#o.providers.find(row.providerId)
    if (!provider || !provider.enabled) return { ok: false, reason: 'disabled', requestId }
    const upstreamError = input.callback.searchParams.get('error')
    if (upstreamError !== null) {
      // RFC 6749 §4.1.2.1: only the code is shown, never the upstream's free text. The ABNF allows
      // spaces and punctuation, which would let the upstream write a sentence onto Stamp's page;
      // registered codes (access_denied, login_required…) are word characters.
      const code = /^[A-Za-z0-9_.-]{1,64}$/.test(upstreamError) ? upstreamError : 'error'
      return { ok: false, reason: 'upstream_error', requestId, provider, upstreamError: code }
    }
    let claims: Record<string, unknown>
    let idToken: string | undefined
    try {
      const config = await this.#o.upstream.configuration(provider)
      const tokens = await oidc.authorizationCodeGrant(config, input.callback, {
        pkceCodeVerifier: row.codeVerifier!,
        expectedState: state!,
        ...(row.nonce ? { expectedNonce: row.nonce } : {}),
        idTokenExpected: provider.kind === 'oidc',
      })
      if (provider.kind === 'oidc') {
        idToken = tokens.id_token
        claims = { ...tokens.claims() }
        if (!claims.email && config.serverMetadata().userinfo_endpoint) {
          // OIDC Core §5.3.2: userinfo `sub` must equal the ID Token's (openid-client checks it).
          claims = { ...await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub)), ...claims }
        }
      } else {
        const res = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(provider.userinfoEndpoint!), 'GET', undefined, new Headers({ accept: 'application/json' }))
        if (!res.ok) return { ok: false, reason: 'rejected', requestId, provider, detail: `userinfo answered ${res.status}` }
        const body = await res.json() as unknown
        if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, reason: 'invalid', requestId, provider, detail: 'userinfo is not a JSON object' }
        claims = body as Record<string, unknown>
        if (provider.emailsEndpoint && !claims[provider.claimMapping.email ?? 'email']) {
          const found = await this.#primaryEmail(config, tokens.access_token, provider.emailsEndpoint)
          if (found) claims = { ...claims, [provider.claimMapping.email ?? 'email']: found, [provider.claimMapping.email_verified ?? 'email_verified']: true }
        }
      }
    } catch (err) {
      const failure = classify(err)
      if (failure.reason === 'unreachable' || failure.reason === 'timeout') this.#o.upstream.forget(provider.id)
      return { ok: false, reason: failure.reason, requestId, provider, detail: failure.message }
    }
    try {
      return { ok: true, provider, requestId, identity: mapClaims(provider.kind, provider.claimMapping, claims), idToken }
    } catch (err) {
      if (!(err instanceof ClaimMappingError)) throw err
      return { ok: false, reason: 'claims', requestId, provider, detail: err.message }
    }
  }

  /**
   * GitHub's non-public addresses: `GET /user/emails` answers `[{ email, primary, verified }]`.
   * The primary verified one is taken, marked verified; an unverified address never is (email
   * matching would otherwise trust an address nobody proved). No usable answer: no email.
   */
  async #primaryEmail (config: oidc.Configuration, accessToken: string, url: string): Promise<string | undefined> {
    const res = await oidc.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, new Headers({ accept: 'application/json' }))
    if (!res.ok) return undefined
    const list = await res.json().catch(() => null) as unknown
    if (!Array.isArray(list)) return undefined
    const primary = list.find((e): e is { email: string } => !!e && typeof e === 'object' && e.primary === true && e.verified === true && typeof e.email === 'string')
    return primary?.email
  }

  /** Which local user the upstream identity is (creating one just in time when the provider allows it). */
  async resolve (provider: IdentityProviderRecord, identity: UpstreamIdentity, context: { ip?: string, clientId?: string }): Promise<Resolution> {
    const link = await this.#o.store.findLink(provider.id, identity.subject)
    if (link) {
      const user = await this.#o.users.findById(link.userId)
      if (!user) return { kind: 'no_account' }
      if (user.disabled) return { kind: 'disabled', user }
      await this.#o.store.linkUsed(link.id, this.#now())
      return { kind: 'user', user, link, created: false }
    }
    if (identity.email) {
      const matches = await this.#o.users.findByEmail(identity.email)
      // Only an address the upstream verified leads to a link offer; an unverified one matching
      // an account is dropped, so a just-in-time user does not become that account's twin.
      if (matches.length && identity.emailVerified) return { kind: 'link_required', user: matches[0] }
      if (matches.length) identity = { ...identity, email: null }
    }
    if (!provider.jit) return { kind: 'no_account' }
    const user = await this.#createUser(provider, identity)
    const created = await this.#o.store.createLink({ providerId: provider.id, subject: identity.subject, userId: user.id, email: identity.email })
    if (!created) {
      // The same upstream identity's first sign-in, twice at once: the other request linked first.
      const winner = await this.#o.store.findLink(provider.id, identity.subject)
      const owner = winner && await this.#o.users.findById(winner.userId)
      if (!winner || !owner) return { kind: 'no_account' }
      return { kind: 'user', user: owner, link: winner, created: false }
    }
    await this.#o.audit.record({ type: 'federated_user_created', actor: user.id, subject: user.id, clientId: context.clientId, ip: context.ip, detail: { provider: provider.slug, username: user.username } })
    return { kind: 'user', user, link: created, created: true }
  }

  async #createUser (provider: IdentityProviderRecord, identity: UpstreamIdentity): Promise<UserRecord> {
    const candidates = usernameCandidates(identity, provider.slug)
    const suffixed = (name: string) => `${name.slice(0, 56)}-${newId().slice(0, 6).toLowerCase()}`
    for (const username of [...candidates, ...candidates.map(suffixed), suffixed(provider.slug)]) {
      if (await this.#o.users.findByUsername(username)) continue
      try {
        return await this.#o.users.create({
          username, email: identity.email, passwordHash: NO_PASSWORD, scopes: [],
          emailVerifiedAt: identity.email && identity.emailVerified ? this.#now() : null,
        })
      } catch (err) {
        if ((err as { code?: string }).code !== 'P2002') throw err
      }
    }
    throw new Error('no free username for a just-in-time user')
  }

  /** Holds a link until the owner of `user` signs in locally for this request in this browser. */
  async holdPendingLink (input: { requestId: string, browser: string, provider: IdentityProviderRecord, identity: UpstreamIdentity, user: UserRecord, ip?: string, clientId?: string }): Promise<void> {
    await this.#o.store.createPendingLink({
      id: newId(), browserHash: sha256(input.browser), requestId: input.requestId, providerId: input.provider.id, subject: input.identity.subject,
      email: input.identity.email, userId: input.user.id, expiresAt: this.#expires(this.#o.policy.pendingLinkTTL),
    })
    await this.#o.audit.record({ type: 'federated_link_pending', subject: input.user.id, clientId: input.clientId, ip: input.ip, detail: { provider: input.provider.slug } })
  }

  /** The provider a pending link for this request would connect (the login page says so). */
  async pendingLinkFor (requestId: string, browser: string): Promise<IdentityProviderRecord | null> {
    return (await this.pendingLink(requestId, browser))?.provider ?? null
  }

  /** The live pending link of this request in this browser, with its provider and account. */
  async pendingLink (requestId: string, browser: string): Promise<{ pending: PendingLinkRecord, provider: IdentityProviderRecord, user: UserRecord } | null> {
    const pending = await this.#o.store.findPendingLink(requestId, sha256(browser), this.#now())
    return pending ? this.#withParts(pending) : null
  }

  /**
   * The pending link a mailed confirmation names, for its confirm page: `other_browser` when this
   * browser is not the one that started the sign-in (the link works only there).
   */
  async pendingLinkById (id: string, browser: string | undefined): Promise<{ pending: PendingLinkRecord, provider: IdentityProviderRecord, user: UserRecord } | 'other_browser' | null> {
    const pending = await this.#o.store.findPendingLinkById(id, this.#now())
    if (!pending) return null
    if (!secretMatches(browser, pending.browserHash)) return 'other_browser'
    return this.#withParts(pending)
  }

  async #withParts (pending: PendingLinkRecord) {
    const [provider, user] = await Promise.all([this.#o.providers.find(pending.providerId), this.#o.users.findById(pending.userId)])
    return provider && provider.enabled && user && !user.disabled ? { pending, provider, user } : null
  }

  /**
   * The mailed link was opened and confirmed in the browser that started the sign-in: the mail
   * token is consumed, the pending link taken and the identity linked, all in one transaction
   * (storage/types.ts FederationStore.confirmPendingLink). The mail proved control of the account's
   * verified address, the upstream round trip the identity: the caller signs the user in (`fed`).
   */
  async confirmByMail (token: string, browser: string, context: { ip?: string, clientId?: string }): Promise<{ pending: PendingLinkRecord, provider: IdentityProviderRecord, user: UserRecord } | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null
    const done = await this.#o.store.confirmPendingLink(hashSecret(token), sha256(browser), this.#now())
    if (!done) return null
    const parts = await this.#withParts(done.pending)
    if (!parts) return null
    if (done.link) {
      await this.#o.audit.record({ type: 'federated_identity_linked', actor: parts.user.id, subject: parts.user.id, clientId: context.clientId, ip: context.ip, detail: { provider: parts.provider.slug, link_id: done.link.id, via: 'mail' } })
      return parts
    }
    // Linked meanwhile (another tab): fine when to this user, else nothing to sign in to.
    const existing = await this.#o.store.findLink(parts.provider.id, done.pending.subject)
    return existing?.userId === parts.user.id ? parts : null
  }

  /** Keeps the upstream ID Token (sealed) for the session this request will start (upstream logout). */
  async holdUpstreamSession (input: { requestId: string, browser: string, provider: IdentityProviderRecord, idToken: string | undefined }): Promise<void> {
    if (!input.provider.upstreamLogout || !input.idToken) return
    await this.#o.store.createState({
      stateHash: sha256(`session:${input.requestId}`), purpose: 'session', browserHash: sha256(input.browser), requestId: input.requestId,
      providerId: input.provider.id, nonce: null, codeVerifier: null, returnTo: null,
      idTokenEnc: seal(this.#o.kek, input.idToken, heldIdTokenAAD(input.requestId)), expiresAt: this.#expires(this.#o.policy.stateTTL),
    })
  }

  /**
   * Called whenever a parked request's sign-in established a session (any method): completes a
   * pending link when the user who signed in is the account the upstream email matched, and
   * attaches a held upstream ID Token to the session. `browser` is the binding before rotation.
   */
  async sessionEstablished (input: { requestId: string, browser: string, user: UserRecord, sessionId: string, amr: readonly string[], ip?: string, clientId?: string }): Promise<void> {
    const now = this.#now()
    const { pendingLink: pending, held } = await this.#o.store.takeSignInHolds(input.requestId, sha256(input.browser), sha256(`session:${input.requestId}`), now)
    // A local sign-in proves the account; a federated one (`fed`) proves nothing about it.
    if (pending && !input.amr.includes('fed')) {
      const provider = await this.#o.providers.find(pending.providerId)
      if (provider && pending.userId === input.user.id) {
        const link = await this.#o.store.createLink({ providerId: provider.id, subject: pending.subject, userId: input.user.id, email: pending.email })
        if (link) {
          await this.#o.audit.record({ type: 'federated_identity_linked', actor: input.user.id, subject: input.user.id, clientId: input.clientId, ip: input.ip, detail: { provider: provider.slug, link_id: link.id, via: 'local_sign_in', amr: input.amr } })
        }
      } else {
        this.#o.log.info({ event: 'federated_link_dropped', user_id: input.user.id }, 'pending link dropped: another account signed in')
      }
    }
    // Only a federated session ends upstream too (a link page holds the token before a local sign-in).
    if (held && held.purpose === 'session' && held.idTokenEnc && input.amr.includes('fed') && secretMatches(input.browser, held.browserHash)) {
      const idToken = open(this.#o.kek, held.idTokenEnc, heldIdTokenAAD(input.requestId))
      await this.#o.store.saveUpstreamSession(input.sessionId, held.providerId, seal(this.#o.kek, idToken, upstreamSessionAAD(input.sessionId)), this.#o.kek.id)
    }
  }

  async linksFor (userId: string): Promise<Array<FederatedIdentityRecord & { provider: IdentityProviderRecord | null }>> {
    const links = await this.#o.store.linksForUser(userId)
    return Promise.all(links.map(async (l) => ({ ...l, provider: await this.#o.providers.find(l.providerId) })))
  }

  async unlink (userId: string, linkId: string, context: { ip?: string }): Promise<boolean> {
    const removed = await this.#o.store.removeLink(userId, linkId)
    if (!removed) return false
    const provider = await this.#o.providers.find(removed.providerId)
    await this.#o.audit.record({ type: 'federated_identity_unlinked', actor: userId, subject: userId, ip: context.ip, detail: { via: 'account', provider: provider?.slug ?? removed.providerId, link_id: linkId } })
    return true
  }

  /** An administrator removes a user's link (by link id) or links (by provider id): the removed ones. */
  unlinkByAdmin (userId: string, linkOrProviderId: string, context: { actor: string, ip?: string }): Promise<RemovedLink[]> {
    return unlinkIdentities(this.#o.store, this.#o.audit, userId, linkOrProviderId, context)
  }

  /**
   * RP-initiated logout at the upstream (OIDC RP-Initiated Logout 1.0 §2) for a session started
   * through it, when the provider has upstream logout on and advertises an end_session_endpoint:
   * the URL to send the browser to, or null. `returnTo` is where the browser goes afterwards.
   */
  async beginLogout (input: { sessionId: string, browser: string, returnTo: string | null, postLogoutRedirectUri: string }): Promise<URL | null> {
    const upstream = await this.#o.store.findUpstreamSession(input.sessionId)
    if (!upstream) return null
    const provider = await this.#o.providers.find(upstream.providerId)
    if (!provider || !provider.enabled || !provider.upstreamLogout) return null
    let config: oidc.Configuration
    try {
      config = await this.#o.upstream.configuration(provider)
    } catch (err) {
      this.#o.log.warn({ event: 'upstream_logout_skipped', provider: provider.slug, reason: classify(err).message }, 'upstream logout skipped: provider unreachable')
      return null
    }
    if (!config.serverMetadata().end_session_endpoint) return null
    const state = oidc.randomState()
    await this.#o.store.createState({
      stateHash: sha256(state), purpose: 'logout', browserHash: sha256(input.browser), requestId: null, providerId: provider.id,
      nonce: null, codeVerifier: null, returnTo: input.returnTo ?? '', idTokenEnc: null, expiresAt: this.#expires(this.#o.policy.stateTTL),
    })
    const idToken = open(this.#o.kek, upstream.idTokenEnc, upstreamSessionAAD(input.sessionId))
    return oidc.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: input.postLogoutRedirectUri, state })
  }

  /** The upstream end_session_endpoint `beginLogout` would send this session to (a CSP form target), or null. */
  async logoutTarget (sessionId: string): Promise<string | null> {
    const upstream = await this.#o.store.findUpstreamSession(sessionId)
    const provider = upstream && await this.#o.providers.find(upstream.providerId)
    if (!provider || !provider.enabled || !provider.upstreamLogout) return null
    try {
      return (await this.#o.upstream.configuration(provider)).serverMetadata().end_session_endpoint ?? null
    } catch {
      return null
    }
  }

  /** Back from the upstream's logout: where to go (null: the signed-out page). */
  async finishLogout (state: string | undefined, browser: string | undefined): Promise<string | null> {
    if (!state) return null
    const row = await this.#o.store.takeState(sha256(state), this.#now())
    if (!row || row.purpose !== 'logout' || !secretMatches(browser, row.browserHash)) return null
    return row.returnTo || null
  }
}

export type RemovedLink = FederatedIdentityRecord & { provider: IdentityProviderRecord | null }

/**
 * Removes a user's link (by link id) or links to a provider (by provider id) for an administrator
 * (admin API and `stamp user unlink`), one audit event per link; the removed links, each with its
 * provider (looked up once per provider) for the caller's answer.
 */
export async function unlinkIdentities (store: FederationStore, audit: AuditLog, userId: string, linkOrProviderId: string, context: { actor: string, ip?: string }): Promise<RemovedLink[]> {
  const removed = await store.removeLinks(userId, linkOrProviderId)
  const providers = new Map<string, IdentityProviderRecord | null>()
  const result: RemovedLink[] = []
  for (const link of removed) {
    if (!providers.has(link.providerId)) providers.set(link.providerId, await store.findProvider(link.providerId))
    const provider = providers.get(link.providerId) ?? null
    await audit.record({ type: 'federated_identity_unlinked', actor: context.actor, subject: userId, ip: context.ip, detail: { via: 'admin', provider: provider?.slug ?? link.providerId, link_id: link.id } })
    result.push({ ...link, provider })
  }
  return result
}
