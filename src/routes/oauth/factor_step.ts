/**
 * What the routes of the second sign-in step share (./second_factor.ts, ./passkey_enrolment.ts):
 * the parked request of this browser whose user owes a factor, the common front of their forms
 * (size, that request, its CSRF token), whether the user may enrol a factor here, and the end of
 * an enrolment (recovery codes shown once, then the session).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { csrfToken, verifyCSRF } from '../../domain/browser_secrets.js'
import type { ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { UserRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { BROWSER_COOKIE, cookie, expiredRequestPage, pageContext, sendErrorPage, sendPage } from './browser.js'
import { field, overLongPage } from './login.js'
import { recoveryCodesPage } from './factor_views.js'
import { establishSession } from './sign_in.js'

export interface PendingFactor { parked: ParkedRequest, browser: string, user: UserRecord }

/** The parked request of this browser with a user owing a factor. */
export async function pendingFactor (app: FastifyInstance, request: FastifyRequest, requestId: string | undefined): Promise<PendingFactor | null> {
  const browser = cookie(request, BROWSER_COOKIE)
  const parked = await app.sso.parked(requestId, browser)
  if (!parked || !browser || !parked.factorUserId) return null
  const user = await app.usersRepository.findById(parked.factorUserId)
  if (!user || user.disabled) return null
  return { parked, browser, user }
}

export function csrfRejected (request: FastifyRequest, reply: FastifyReply): FastifyReply {
  request.log.warn({ event: 'csrf_rejected', form: 'second_factor' }, 'second-factor form without a valid CSRF token')
  return sendErrorPage(reply, 403, 'error.formExpired.title', 'factor.formExpired')
}

/**
 * The front of every second-step form: not over-long, this browser's parked request with a user
 * owing a factor, and the form's CSRF token. Answers the request itself when one fails.
 */
export async function factorForm (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): Promise<PendingFactor | FastifyReply> {
  const form = request.body
  const long = overLongPage(reply, form, 'login.cannot')
  if (long) return long
  const pending = await pendingFactor(app, request, field(form, 'request'))
  if (!pending) return expiredRequestPage(reply)
  if (!verifyCSRF(pending.browser, 'factor', pending.parked.id, field(form, 'csrf'))) return csrfRejected(request, reply)
  return pending
}

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
