/**
 * The second-factor page (one-time code, passkey, recovery code) of a parked request whose user
 * passed the first factor. Sent by its own address (./second_factor.ts: GET, and its form's
 * refusals) and as the password form's answer (./sign_in.ts afterFactor): the browser then needs
 * no redirect and no second request before the code, and the page names its own address
 * (assets/page_address.js) so that a reload asks for it by GET instead of posting the password again.
 *
 * @module
 */
import type { FastifyReply } from 'fastify'
import { csrfToken } from '../../domain/browser_secrets.js'
import type { ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { t } from '../../i18n/messages.js'
import type { FactorPresence } from '../../storage/types.js'
import { PASSKEY_SCRIPTS, SCRIPTS } from '../static.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { pageContext, parkedPageURL, sendPage } from './browser.js'
import { secondFactorPage } from './factor_views.js'

export type FactorPageError = 'factor.wrongCode' | 'factor.wrongRecovery' | 'passkey.failed' | { throttled: number }

/**
 * `presence`: which factors the user has (what the page offers). `answersPost`: the page is the
 * answer to another form's POST, so it carries its address.
 */
export function sendFactorPage (
  reply: FastifyReply, status: number, { parked, browser }: { parked: ParkedRequest, browser: string }, presence: FactorPresence,
  options: { error?: FactorPageError, answersPost?: boolean } = {},
): FastifyReply {
  const issuer = publicIssuer(reply.request)
  const ctx = pageContext(reply.request)
  const { error } = options
  const page = secondFactorPage(ctx, {
    action: issuer + ENDPOINTS.loginFactor,
    requestId: parked.id,
    csrf: csrfToken(browser, 'factor', parked.id),
    totp: presence.totp,
    recovery: presence.recoveryCodesLeft > 0,
    passkey: presence.passkeys > 0 ? { optionsAction: issuer + ENDPOINTS.passkeyOptions, action: issuer + ENDPOINTS.passkeyLogin, scripts: PASSKEY_SCRIPTS } : undefined,
    error: error === undefined ? undefined : typeof error === 'string' ? t(ctx.locale, error) : t(ctx.locale, 'login.error.throttled.other', { count: error.throttled }),
    // The address a redirect to this page names (./sign_in.ts afterFactor).
    address: options.answersPost ? { url: parkedPageURL(reply.request, ENDPOINTS.loginFactor, parked.id), scripts: [SCRIPTS.pageAddress] } : undefined,
  })
  return sendPage(reply, status, page, [parked.redirectUri])
}
