/**
 * The steps every way of signing in shares, once a factor has been checked: decide whether the
 * user still owes a (second) factor or an enrolment (domain/authentication_methods.ts), or
 * establish the SSO session with the methods used and continue the parked request (consent, or
 * back to the application).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ACR_MULTI_FACTOR, acrFor, afterFirstFactor, requestedACR, type ACR } from '../../domain/authentication_methods.js'
import type { AuditEvent } from '../../domain/audit.js'
import { newSecret } from '../../domain/browser_secrets.js'
import { hasSecondFactor } from '../../domain/second_factors.js'
import { redirectURL } from '../../domain/authorization_request.js'
import { ACCOUNT_CLIENT_ID, type ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { ClientRecord, SessionRecord, SignInFactorUse, UserRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { BROWSER_COOKIE, SESSION_COOKIE, completeParked, cookie, cookieJarFor, expiredRequestPage, parkedPageURL, redirect } from './browser.js'
import { startSession } from './password_sign_in.js'
import { sendFactorPage } from './factor_page.js'

/** Whether MFA is demanded for this sign-in: globally, by the client, for the user, or by acr_values. */
export function mfaDemanded (app: FastifyInstance, client: ClientRecord, user: UserRecord, acrValues: readonly string[]): boolean {
  return app.config.policy.mfa.mode === 'required' || (client.requireMfa ?? false) || (user.mfaRequired ?? false) ||
    requestedACR(acrValues) === ACR_MULTI_FACTOR
}

/**
 * After the first factor (`amr` so far): on to the second-factor page, the enrolment page, or
 * signed in. A method that is itself multi-factor (a passkey with user verification) is done.
 * `event` (the factor's `login_succeeded`, not yet recorded) is written with what follows: with
 * the mark of the first factor when a step is still owed (one statement with the read of the
 * user's factors, asynchronous commit), else in the sign-in's transaction; and on its own when
 * neither wrote it (the request gone). `answer: 'page'` (a form's POST): the second-factor page
 * is this response itself rather than a redirect to it (./factor_page.ts); a redirect's target
 * (a callback's GET) keeps the redirect.
 */
export async function afterFactor (
  app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, parked: ParkedRequest, browser: string, user: UserRecord, amr: string[],
  event?: AuditEvent, answer: 'redirect' | 'page' = 'redirect',
): Promise<FastifyReply> {
  if (acrFor(amr) !== ACR_MULTI_FACTOR) {
    const policy = {
      mode: app.config.policy.mfa.mode,
      clientRequires: parked.client.requireMfa ?? false,
      userRequires: user.mfaRequired ?? false,
      requested: requestedACR(parked.acrValues) as ACR | undefined,
    }
    const nextFor = (hasFactor: boolean) => afterFirstFactor({ ...policy, hasSecondFactor: hasFactor })
    const owed = { withFactor: nextFor(true) !== 'done', withoutFactor: nextFor(false) !== 'done' }
    if (owed.withFactor || owed.withoutFactor) {
      const events = event ? [event] : []
      const { presence, marked } = await app.sso.firstFactorIfOwed(parked.id, user.id, amr, events, owed)
      const next = nextFor(hasSecondFactor(presence))
      if (next !== 'done') {
        if (!marked) {
          // The request is gone (completed or expired meanwhile): the factor still passed, the trail keeps it.
          if (event) await app.audit.record(event)
          return expiredRequestPage(reply)
        }
        if (event) app.audit.announce(event)
        if (next === 'second_factor' && answer === 'page') return sendFactorPage(reply, 200, { parked, browser }, presence, { answersPost: true })
        return redirect(reply, parkedPageURL(request, next === 'enrol' ? ENDPOINTS.loginEnrol : ENDPOINTS.loginFactor, parked.id))
      }
    }
  }
  const done = await completeSignIn(app, request, reply, parked, browser, user, amr, event && {
    events: () => [event],
    // Nothing committed (the request completed meanwhile): the factor still passed, the trail keeps it.
    unwritten: () => app.audit.record(event),
  })
  return done === 'factor_refused' ? expiredRequestPage(reply) : done
}

/** What a second factor adds to the sign-in's transaction: the factor it consumes, and its audit events. */
export interface SignInExtras {
  factor?: SignInFactorUse
  events?: (found: { recoveryCodesLeft?: number }) => AuditEvent[]
  /** Called when the transaction wrote nothing (refused or gone), so `events` were not stored. */
  unwritten?: () => Promise<void>
}

/**
 * The end of every sign-in for a parked request: one transaction (SingleSignOn.completeSignIn)
 * writes the factor use, the session, the new browser binding, the request's completion (or its
 * mark, when consent follows) with the code, and the audit events; only then are the cookies
 * set. 'factor_refused': the factor was used meanwhile (a replayed code), nothing was written.
 * A request completed meanwhile (a second submission) gets the expired-request page.
 */
export async function completeSignIn (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, parked: ParkedRequest, browser: string, user: UserRecord, amr: string[], extras: SignInExtras = {}): Promise<FastifyReply | 'factor_refused'> {
  const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
  const consent = await app.sso.consentRequired(parked.client, user, app.sso.grantableScopes(parked.client, user, parked.scopes), parked.prompt)
  // A binding secret known before the sign-in (planted, or read off this device) must not carry
  // over into the consent step: the parked requests move to a new one, in the same transaction.
  const rotated = newSecret()
  let events: AuditEvent[] = []
  const done = await app.sso.completeSignIn({
    parked, user, current, amr, browserSecret: browser, newBrowserSecret: rotated, consent, factor: extras.factor,
    events: (found) => (events = extras.events?.(found) ?? []),
  })
  if (!done.ok) {
    await extras.unwritten?.()
    return done.reason === 'factor_refused' ? 'factor_refused' : expiredRequestPage(reply)
  }
  for (const event of events) app.audit.announce(event)
  const jar = cookieJarFor(request)
  jar.set(reply, SESSION_COOKIE, done.secret)
  jar.set(reply, BROWSER_COOKIE, rotated)
  // A pending federated link completes on this (local) sign-in; an upstream ID Token attaches to
  // the session for upstream logout (domain/federation/broker.ts). Both are bound to `browser`;
  // after the commit, as the upstream session refers to the session row.
  await app.federation.sessionEstablished({ requestId: parked.id, browser, user, sessionId: done.session.id, amr, ip: request.ip, clientId: parked.client.id })
  if (consent) return redirect(reply, parkedPageURL(request, ENDPOINTS.consent, parked.id))
  // The account page's own sign-in: back to the page it came from, no code.
  if (parked.client.id === ACCOUNT_CLIENT_ID || done.code === undefined) return redirect(reply, parked.redirectUri)
  request.log.info({ event: 'authorization_code_issued', client_id: parked.client.id, sid: done.session.id }, 'authorization code issued')
  return redirect(reply, redirectURL(parked.redirectUri, { code: done.code, state: parked.state, iss: publicIssuer(request) }))
}

/**
 * Signs the user in with `amr` (a new cookie secret, see SingleSignOn.signIn), moves this
 * browser's parked requests to a new binding secret, and marks the request authenticated.
 */
export async function establishSession (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, parked: ParkedRequest, browser: string, user: UserRecord, amr: string[]): Promise<{ session: SessionRecord, browser: string }> {
  // A binding secret known before the sign-in (planted, or read off this device) must not carry
  // over into the consent step: the parked requests move to a new one.
  const started = await startSession(app, request, reply, user, browser, amr)
  await app.sso.markAuthenticated(parked.id, started.session.id)
  // A pending federated link completes on this (local) sign-in; an upstream ID Token attaches to
  // the session for upstream logout (domain/federation/broker.ts). Both are bound to `browser`.
  await app.federation.sessionEstablished({ requestId: parked.id, browser, user, sessionId: started.session.id, amr, ip: request.ip, clientId: parked.client.id })
  return started
}

/** Consent when needed, else the code goes back to the application (or the account page). */
export async function continueParked (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, parked: ParkedRequest, session: SessionRecord, user: UserRecord): Promise<FastifyReply> {
  const scopes = app.sso.grantableScopes(parked.client, user, parked.scopes)
  if (await app.sso.consentRequired(parked.client, user, scopes, parked.prompt)) {
    return redirect(reply, parkedPageURL(request, ENDPOINTS.consent, parked.id))
  }
  return completeParked(app, reply, parked, session, user)
}
