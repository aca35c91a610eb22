/**
 * What the routes of the second sign-in step share (./second_factor.ts, ./passkey_enrolment.ts):
 * the parked request of this browser whose user owes a factor, the common front of their forms
 * (size, that request, its CSRF token; also for ./passkey_login.ts), whether the user may enrol a factor here, and the end of
 * an enrolment (recovery codes shown once, then the session).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { csrfToken, verifyCSRF, type CSRFPurpose } from '../../domain/browser_secrets.js'
import type { ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { FactorPresence, OwingFactorRead, TOTPRecord, UserRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { BROWSER_COOKIE, cookie, expiredRequestPage, formExpiredPage, pageContext, sendPage } from './browser.js'
import { field, overLongPage } from './login.js'
import { recoveryCodesPage } from './factor_views.js'
import { establishSession } from './sign_in.js'

export interface PendingFactor {
  parked: ParkedRequest
  browser: string
  user: UserRecord
  /** Read with the request when asked for (`read: 'presence'`), else null. */
  presence: FactorPresence | null
  /** Read with the request when asked for (`read: 'totp'`): the user's TOTP record, else null. */
  totp: TOTPRecord | null
}

/**
 * The parked request of this browser with a user owing a factor, and what `read` names of that
 * user's factors (which ones exist, for the page; the TOTP record, for its form): one statement
 * (SingleSignOn.parkedOwingFactor) instead of the request, then the user beside the factors.
 */
export async function pendingFactor (app: FastifyInstance, request: FastifyRequest, requestId: string | undefined, read?: OwingFactorRead): Promise<PendingFactor | null> {
  const browser = cookie(request, BROWSER_COOKIE)
  const found = browser ? await app.sso.parkedOwingFactor(requestId, browser, read) : null
  if (!found || !browser || found.user.disabled) return null
  return { ...found, browser }
}

/** Which form refused a token, for the log (`second_factor`: this step's pages; `passkey`: ./passkey_login.ts). */
export type FactorFormName = 'second_factor' | 'passkey'

export function csrfRejected (request: FastifyRequest, reply: FastifyReply, form: FactorFormName = 'second_factor'): FastifyReply {
  return formExpiredPage(request, reply, form, 'factor.formExpired')
}

/** This browser's parked request, a factor owed or not (a passkey may be the first factor). */
export interface ParkedForm { parked: ParkedRequest, browser: string }

/**
 * Which page's CSRF token a passkey form may carry: the second-factor page's once the password
 * passed, else the login page's (both pages offer passkeys).
 */
export const passkeyCSRFPurpose = (parked: ParkedRequest): CSRFPurpose => parked.factorUserId ? 'factor' : 'login'

/**
 * The front of every second-step form: not over-long, this browser's parked request, and the
 * form's CSRF token. Answers the request itself when one fails.
 * - `accept: 'factor'` (the default): a user owing a factor, and the second-factor page's token.
 * - `accept: 'factor_or_login'` (a passkey form): any parked request, and the token of the page
 *   it came from (passkeyCSRFPurpose); no user is read, the passkey names its own.
 */
export async function factorForm (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, accept?: 'factor', read?: OwingFactorRead): Promise<PendingFactor | FastifyReply>
export async function factorForm (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, accept: 'factor_or_login'): Promise<ParkedForm | FastifyReply>
export async function factorForm (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, accept: 'factor' | 'factor_or_login' = 'factor', read?: OwingFactorRead): Promise<ParkedForm | FastifyReply> {
  const form = request.body
  const long = overLongPage(reply, form, 'login.cannot')
  if (long) return long
  let front: ParkedForm | null
  if (accept === 'factor') {
    front = await pendingFactor(app, request, field(form, 'request'), read)
  } else {
    const browser = cookie(request, BROWSER_COOKIE)
    const parked = await app.sso.parked(field(form, 'request'), browser)
    front = parked && browser ? { parked, browser } : null
  }
  if (!front) return expiredRequestPage(reply)
  const purpose = accept === 'factor' ? 'factor' : passkeyCSRFPurpose(front.parked)
  if (!verifyCSRF(front.browser, purpose, front.parked.id, field(form, 'csrf'))) return csrfRejected(request, reply, accept === 'factor' ? 'second_factor' : 'passkey')
  return front
}

export const isParkedForm = (x: ParkedForm | FastifyReply): x is ParkedForm => 'parked' in x && 'browser' in x
export const isPending = (x: PendingFactor | FastifyReply): x is PendingFactor => 'parked' in x && 'user' in x

/**
 * Enrolment at sign-in is for a user without any second factor: one who has one presents it.
 * Otherwise the password alone would be enough to add a factor of one's own and sign in with it.
 */
export async function mayEnrol (app: FastifyInstance, { user }: PendingFactor): Promise<boolean> {
  return !await app.secondFactors.hasSecondFactor(user.id)
}

/**
 * After a factor was enrolled at sign-in (`event` already audited): new recovery codes, shown
 * once, and the session with `amr`; the codes page continues at /login/continue.
 */
export async function finishEnrolment (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, { parked, browser, user }: PendingFactor, amr: string[]): Promise<FastifyReply> {
  const audit = { actor: user.id, subject: user.id, clientId: parked.client.id, ip: request.ip }
  const codes = await app.secondFactors.regenerateRecoveryCodes(user.id)
  await app.audit.record({ type: 'recovery_codes_generated', ...audit, detail: { count: codes.length } })
  await app.audit.record({ type: 'login_succeeded', ...audit, detail: { via: 'enrolment' } })
  const { browser: rotated } = await establishSession(app, request, reply, parked, browser, user, amr)
  const page = recoveryCodesPage(pageContext(request), {
    codes, action: publicIssuer(request) + ENDPOINTS.loginContinue, hidden: { request: parked.id, csrf: csrfToken(rotated, 'factor', parked.id) },
  })
  return sendPage(reply, 200, page, [parked.redirectUri])
}
