/**
 * The device verification pages (RFC 8628 §3.3): the user opens `/device` (or the
 * `verification_uri_complete` link, which only fills in the code: §5.4 asks the user to confirm
 * it), types the code, signs in unless the browser has a live SSO session, sees the application
 * and the scopes, and approves or denies.
 *
 * - Every form carries a CSRF token derived from the browser-binding cookie; the links between
 *   steps carry `check`, an HMAC of the binding secret and the request, so a step link only works
 *   in the browser that entered the code (a forwarded link asks for the code again).
 * - Guessing (§5.1): POSTs are rate-limited per IP (`app.rateLimits.login`); wrong codes are
 *   counted per browser and per IP (`userCodeGuard`), each one audited
 *   (`device_user_code_failed`) and counted (`stamp_device_user_code_failures_total`); over the
 *   threshold the browser (or address) is refused for a while (`device_flow_blocked`).
 * - The decision is one conditional UPDATE: a request is approved or denied once.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import { OAuthError } from '../../errors.js'
import { csrfToken, hashSecret, verifyCSRF } from '../../domain/browser_secrets.js'
import { formatUserCode, normalizeUserCode, sha256 } from '../../domain/device_flow.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { ClientRecord, DeviceAuthorizationRecord } from '../../storage/types.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { queryOf } from '../oauth/authorize.js'
import {
  BROWSER_COOKIE, SESSION_COOKIE, browserErrorPages, carriedLocale, cookie, cookieJarFor, formExpiredPage, pageContext, redirect, sendErrorPage, sendPage, withLocale,
} from '../oauth/browser.js'
import { t, tn, type Locale } from '../../i18n/messages.js'
import { field, overLongPage } from '../oauth/login.js'
import { checkPassword, startSession } from '../oauth/password_sign_in.js'
import { loginPage } from '../oauth/views.js'
import { approvePage, donePage, entryPage } from './views.js'

const LOGIN_PATH = `${ENDPOINTS.device}/login`
const APPROVE_PATH = `${ENDPOINTS.device}/approve`

export default async function deviceVerificationRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const failures = new Counter({
    name: 'stamp_device_user_code_failures_total',
    help: 'Wrong user codes entered at /device, by reason (unknown, malformed, blocked)',
    labelNames: ['reason'],
    registers: [app.metrics.registry],
  })
  const postOptions = { config: { rateLimit: app.rateLimits.login } }
  const url = (request: FastifyRequest, path: string) => publicIssuer(request) + path

  /** A link to the next step that only this browser can follow. */
  function stepLink (request: FastifyRequest, path: string, id: string, browser: string): string {
    return withLocale(`${url(request, path)}?device=${encodeURIComponent(id)}&check=${csrfToken(browser, 'device_step', id)}`, carriedLocale(request))
  }

  // A fixed code of the configured shape for the hint (the default alphabet's: BCDF-GHJK).
  const { userCodeLength, userCodeAlphabet } = app.config.policy.deviceFlow
  const codeExample = formatUserCode(Array.from({ length: userCodeLength }, (_, i) => userCodeAlphabet[i % userCodeAlphabet.length]).join(''))

  function renderEntry (reply: FastifyReply, status: number, browser: string, userCode?: string, error?: (l: Locale) => string) {
    const ctx = pageContext(reply.request)
    return sendPage(reply, status, entryPage(ctx, {
      action: url(reply.request, ENDPOINTS.device), csrf: csrfToken(browser, 'device_entry', ''), userCode, error: error?.(ctx.locale), uiLocales: carriedLocale(reply.request),
      codeLength: app.config.policy.deviceFlow.userCodeLength, example: codeExample,
    }))
  }

  function renderLogin (reply: FastifyReply, status: number, record: DeviceAuthorizationRecord, client: ClientRecord, browser: string, username?: string, error?: (l: Locale) => string) {
    const ctx = pageContext(reply.request)
    return sendPage(reply, status, loginPage(ctx, {
      action: url(reply.request, LOGIN_PATH), requestId: record.id, csrf: csrfToken(browser, 'device_login', record.id), clientName: client.name, username,
      error: error?.(ctx.locale), uiLocales: carriedLocale(reply.request),
    }))
  }

  function blockedPage (reply: FastifyReply, retryAfter: number) {
    reply.header('retry-after', String(retryAfter))
    return sendErrorPage(reply, 429, 'device.blocked.title', (l) => tn(l, 'device.blocked.message', Math.ceil(retryAfter / 60)))
  }

  /** The request and its client, or an error page when it cannot be acted on any more. */
  async function usable (reply: FastifyReply, id: string | undefined): Promise<{ record: DeviceAuthorizationRecord, client: ClientRecord } | FastifyReply> {
    const record = id ? await app.deviceAuthorizations.find(id) : null
    if (!record) return sendErrorPage(reply, 400, 'device.step.title', 'device.step.message')
    // A metadata-document client that became unusable is an expired request; an outage is not.
    const client = await app.clientCache.find(record.clientId).catch((err: unknown) => { if (err instanceof OAuthError) return null; throw err })
    if (!client || record.expiresAt <= new Date()) return sendErrorPage(reply, 400, 'device.expired.title', 'device.expired.message')
    if (record.status !== 'pending') return sendErrorPage(reply, 400, 'device.used.title', 'device.used.message')
    return { record, client }
  }

  /** A step link's request, checked against this browser. */
  async function step (request: FastifyRequest, reply: FastifyReply) {
    const query = queryOf(request)
    const id = query.device?.[0]
    const browser = cookie(request, BROWSER_COOKIE)
    if (!id || !browser || !verifyCSRF(browser, 'device_step', id, query.check?.[0])) return sendErrorPage(reply, 400, 'device.step.title', 'device.step.message')
    const found = await usable(reply, id)
    return 'record' in found ? { ...found, browser } : found
  }

  app.get(ENDPOINTS.device, async (request, reply) => {
    const browser = cookieJarFor(request).browserSecret(request, reply)
    const guard = await app.userCodeGuard.check(hashSecret(browser), request.ip)
    if (!guard.allowed) return blockedPage(reply, guard.retryAfter)
    // verification_uri_complete: the code is filled in, and the user still confirms it (§3.3.1).
    const given = queryOf(request).user_code?.[0]
    const code = normalizeUserCode(given, app.config.policy.deviceFlow)
    return renderEntry(reply, 200, browser, code ? formatUserCode(code) : given?.slice(0, app.config.policy.deviceFlow.userCodeLength + 4))
  })

  app.post(ENDPOINTS.device, postOptions, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'device.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    if (!browser || !verifyCSRF(browser, 'device_entry', '', field(form, 'csrf'))) return formExpiredPage(request, reply, 'device', 'device.formExpired.message')
    const browserHash = hashSecret(browser)
    const guard = await app.userCodeGuard.check(browserHash, request.ip)
    if (!guard.allowed) {
      failures.inc({ reason: 'blocked' })
      return blockedPage(reply, guard.retryAfter)
    }
    const typed = field(form, 'user_code')?.trim()
    if (!typed) return renderEntry(reply, 400, browser, undefined, (l) => t(l, 'device.code.missing'))
    const code = normalizeUserCode(typed, app.config.policy.deviceFlow)
    const record = code ? await app.deviceAuthorizations.findByUserCodeHash(sha256(code)) : null
    if (!record) {
      const reason = code ? 'unknown' : 'malformed'
      failures.inc({ reason })
      const blocked = await app.userCodeGuard.failed(browserHash, request.ip)
      // The browser is named by a prefix of its binding hash: enough to correlate, useless as a cookie.
      const detail = { reason, browser: browserHash.slice(0, 16) }
      await app.audit.record({ type: 'device_user_code_failed', ip: request.ip, detail })
      if (blocked) {
        await app.audit.record({ type: 'device_flow_blocked', ip: request.ip, detail: { ...detail, block_seconds: app.config.policy.deviceFlow.blockSeconds } })
        return blockedPage(reply, app.config.policy.deviceFlow.blockSeconds)
      }
      return renderEntry(reply, 400, browser, typed.slice(0, 12), (l) => t(l, 'device.code.unknown'))
    }
    const found = await usable(reply, record.id)
    if (!('record' in found)) return found
    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    return redirect(reply, stepLink(request, current ? APPROVE_PATH : LOGIN_PATH, record.id, browser))
  })

  app.get(LOGIN_PATH, async (request, reply) => {
    const found = await step(request, reply)
    if (!('record' in found)) return found
    return renderLogin(reply, 200, found.record, found.client, found.browser)
  })

  app.post(LOGIN_PATH, postOptions, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'device.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const id = field(form, 'request')
    if (!browser || !id || !verifyCSRF(browser, 'device_login', id, field(form, 'csrf'))) return formExpiredPage(request, reply, 'device_login', 'device.formExpired.message')
    const found = await usable(reply, id)
    if (!('record' in found)) return found
    const { record, client } = found
    const username = field(form, 'username')?.trim()
    const password = field(form, 'password')
    if (!username || !password) return renderLogin(reply, 400, record, client, browser, username, (l) => t(l, 'login.error.missing'))
    const check = await checkPassword(app, request, { username, password, clientId: client.id, via: 'device_form' })
    if (!check.ok && check.reason === 'throttled') {
      reply.header('retry-after', String(check.retryAfter))
      return renderLogin(reply, 429, record, client, browser, username, (l) => tn(l, 'login.error.throttled', check.retryAfter))
    }
    if (!check.ok && check.reason === 'unverified') return renderLogin(reply, 403, record, client, browser, username, (l) => t(l, 'login.error.unverified'))
    if (!check.ok) return renderLogin(reply, 401, record, client, browser, username, (l) => t(l, 'login.error.incorrect'))
    const signedIn = await startSession(app, request, reply, check.user, browser)
    return redirect(reply, stepLink(request, APPROVE_PATH, record.id, signedIn.browser))
  })

  app.get(APPROVE_PATH, async (request, reply) => {
    const found = await step(request, reply)
    if (!('record' in found)) return found
    const { record, client, browser } = found
    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    if (!current) return redirect(reply, stepLink(request, LOGIN_PATH, record.id, browser))
    return sendPage(reply, 200, approvePage(pageContext(request), {
      action: url(request, APPROVE_PATH),
      uiLocales: carriedLocale(request),
      deviceId: record.id,
      csrf: csrfToken(browser, 'device_approve', record.id),
      clientName: client.name,
      username: current.user.username,
      scopes: app.sso.grantableScopes(client, current.user, record.scope.split(' ').filter(Boolean)),
    }))
  })

  app.post(APPROVE_PATH, postOptions, async (request, reply) => {
    const form = request.body
    const long = overLongPage(reply, form, 'device.cannot')
    if (long) return long
    const browser = cookie(request, BROWSER_COOKIE)
    const id = field(form, 'device')
    if (!browser || !id || !verifyCSRF(browser, 'device_approve', id, field(form, 'csrf'))) return formExpiredPage(request, reply, 'device_approve', 'device.formExpired.message')
    const found = await usable(reply, id)
    if (!('record' in found)) return found
    const { record, client } = found
    const current = await app.sso.currentSession(cookie(request, SESSION_COOKIE))
    if (!current) return redirect(reply, stepLink(request, LOGIN_PATH, record.id, browser))
    const { session, user } = current
    const decision = field(form, 'decision')
    if (decision !== 'allow' && decision !== 'deny') return sendErrorPage(reply, 400, 'device.cannot', 'device.choose')
    const scopes = app.sso.grantableScopes(client, user, record.scope.split(' ').filter(Boolean))
    const now = new Date()
    const decided = await app.deviceAuthorizations.decide(record.id, decision === 'allow'
      ? { approved: true, userId: user.id, sessionId: session.id, authTime: session.authTime, scope: scopes.join(' ') }
      : { approved: false, userId: user.id }, now)
    // Lost a race with another decision (or the clock ran out meanwhile): say which.
    if (!decided) return usable(reply, record.id).then((r) => 'record' in r ? sendErrorPage(reply, 400, 'device.used.title', 'device.used.message') : r)
    const approved = decision === 'allow'
    if (approved) {
      // The approval is the user's consent: refreshes re-check it (as for the code flow), and the
      // session's clients get back-channel logout, as for a code issued in it.
      await app.sso.rememberConsent(user, client, scopes)
      await app.sessions.addClient(session.id, client.id)
    }
    request.log.info({ event: approved ? 'device_authorization_approved' : 'device_authorization_denied', client_id: client.id, user_id: user.id }, 'device authorization decided')
    await app.audit.record({
      type: approved ? 'device_authorization_approved' : 'device_authorization_denied',
      actor: user.id, subject: user.id, clientId: client.id, ip: request.ip,
      detail: { scopes: approved ? scopes : [], device_authorization: record.id, sid: session.id },
    })
    return sendPage(reply, 200, donePage(pageContext(request), approved, client.name))
  })
}
