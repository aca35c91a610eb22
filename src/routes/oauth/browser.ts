/**
 * What the browser-facing endpoints share: cookies (parsed and set by hand: two cookies do not
 * justify a plugin), security headers for HTML pages, and the redirect back to the client.
 *
 * Cookie rules: HttpOnly, SameSite=Lax (sent on the top-level navigation that brings the user back
 * from an app, never on cross-site subresource or POST requests), Secure when the request's public
 * issuer (`publicIssuer(request)`) is https, Path = that issuer's path. No Max-Age: both die with the browser session; the server-side rows
 * have their own expiry. On an https issuer at path `/` the names carry the `__Host-` prefix
 * (RFC 6265bis §4.1.3.2): the browser then only accepts them Secure, host-only and at `/`, so a
 * sibling subdomain or a plain-http page cannot plant or overwrite them (session fixation).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import { redirectURL } from '../../domain/authorization_request.js'
import { newSecret } from '../../domain/browser_secrets.js'
import { ACCOUNT_CLIENT_ID, type ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { SessionRecord, UserRecord } from '../../storage/types.js'
import { errorPage, type PageContext } from './views.js'
import { t, tn, type Locale, type MessageKey } from '../../i18n/messages.js'
import { fromUILocales, negotiateLocale } from '../../i18n/negotiate.js'
import { parseForm } from '../../plugins/form_body.js'

export const SESSION_COOKIE = 'stamp_session'
/** Binds a parked authorization request (and its CSRF tokens) to the browser that started it. */
export const BROWSER_COOKIE = 'stamp_browser'

export function parseCookies (header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null)
  if (!header) return cookies
  for (const raw of header.split(';')) {
    const part = raw.trim()
    const eq = part.indexOf('=')
    if (eq < 1) continue
    const name = part.slice(0, eq).trim()
    let value = part.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    // First one wins, like browsers order them (most specific path first).
    if (!(name in cookies)) cookies[name] = value
  }
  return cookies
}

/** The cookie `name` of this request's issuer (prefixed per {@link CookieJar.name}). */
export function cookie (request: FastifyRequest, name: string): string | undefined {
  const value = parseCookies(request.headers.cookie)[cookieJarFor(request).name(name)]
  // Our values are base64url; anything else is not ours.
  return value && /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined
}

/** The cookie jar for this request's public issuer (its `Secure` flag and path). */
export function cookieJarFor (request: FastifyRequest): CookieJar {
  return new CookieJar(publicIssuer(request))
}

export class CookieJar {
  readonly #path: string
  readonly #secure: boolean

  readonly #prefix: string

  constructor (issuer: string) {
    const url = new URL(issuer)
    this.#path = url.pathname === '' ? '/' : url.pathname
    this.#secure = url.protocol === 'https:'
    this.#prefix = this.#secure && this.#path === '/' ? '__Host-' : ''
  }

  /** The name on the wire: `__Host-` + name when Secure at `/` (a cookie without it is not ours). */
  name (name: string): string {
    return this.#prefix + name
  }

  set (reply: FastifyReply, name: string, value: string): void {
    reply.header('set-cookie', `${this.name(name)}=${value}; Path=${this.#path}; HttpOnly; SameSite=Lax${this.#secure ? '; Secure' : ''}`)
  }

  clear (reply: FastifyReply, name: string): void {
    reply.header('set-cookie', `${this.name(name)}=; Path=${this.#path}; Max-Age=0; HttpOnly; SameSite=Lax${this.#secure ? '; Secure' : ''}`)
  }

  /** The browser-binding secret, created (and set) when the browser has none yet. */
  browserSecret (request: FastifyRequest, reply: FastifyReply): string {
    const existing = cookie(request, BROWSER_COOKIE)
    if (existing) return existing
    const secret = newSecret()
    this.set(reply, BROWSER_COOKIE, secret)
    return secret
  }

  /** A new browser-binding secret, set on the reply (the caller moves parked requests over to it). */
  rotateBrowserSecret (reply: FastifyReply): string {
    const secret = newSecret()
    this.set(reply, BROWSER_COOKIE, secret)
    return secret
  }
}

/** A CSP `form-action` source for where a form post may end up after redirects. */
function formTarget (uri: string): string | undefined {
  try {
    const url = new URL(uri)
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin
    // Native apps' private-use schemes (RFC 8252 §7.1): allow the scheme.
    return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined
  } catch {
    return undefined
  }
}

/**
 * The `ui_locales` a hosted page was asked for: the query parameter (carried from /authorize to
 * the login and consent pages and their form actions), else the posted form's field.
 */
function requestedLocales (request: FastifyRequest): string | undefined {
  const q = request.url.indexOf('?')
  const query = q === -1 ? undefined : parseForm(request.url.slice(q + 1)).ui_locales
  if (query?.length === 1) return query[0]
  const body = request.body
  if (body && typeof body === 'object' && Object.getPrototypeOf(body) === null) {
    const field = (body as Record<string, string[] | undefined>).ui_locales
    if (field?.length === 1) return field[0]
  }
  return undefined
}

/** The page language: `ui_locales` (OIDC Core §3.1.2.1), then `Accept-Language`, then English. */
export function localeOf (request: FastifyRequest): Locale {
  return negotiateLocale(requestedLocales(request), request.headers['accept-language'])
}

/**
 * The locale to carry on to the next hosted page (`?ui_locales=de`), when the request named one
 * with `ui_locales`; a browser's Accept-Language needs no carrying.
 */
export function carriedLocale (request: FastifyRequest): Locale | undefined {
  return fromUILocales(requestedLocales(request))
}

/** `url` with `ui_locales` added when a locale is carried. */
export function withLocale (url: string, locale: Locale | undefined): string {
  return locale ? `${url}${url.includes('?') ? '&' : '?'}ui_locales=${locale}` : url
}

/**
 * A hosted page of the parked request `requestId` (`endpoint`: ENDPOINTS.login, .loginFactor, …)
 * at the public issuer, keeping the carried `ui_locales`; `extra` adds to its query (`&error=passkey`).
 */
export function parkedPageURL (request: FastifyRequest, endpoint: string, requestId: string, extra = ''): string {
  return withLocale(`${publicIssuer(request)}${endpoint}?request=${requestId}${extra}`, carriedLocale(request))
}

export function pageContext (request: FastifyRequest): PageContext {
  return { locale: localeOf(request), issuer: publicIssuer(request), branding: request.server.branding }
}

/** Text of a page: a catalogue key, or a function of the locale for messages with values. */
export type PageText = MessageKey | ((locale: Locale) => string)

function resolve (text: PageText, locale: Locale): string {
  return typeof text === 'function' ? text(locale) : t(locale, text)
}

/**
 * Sends an HTML page with the security headers every hosted page gets. `formTargets` are the
 * URIs a form on the page may redirect to: Chromium enforces `form-action` on the redirect after a
 * form post too, so the client's redirect URI must be listed. Styles and scripts are served files
 * of this origin only (`/assets/`): nothing inline runs.
 */
export function sendPage (reply: FastifyReply, status: number, page: string, formTargets: string[] = []): FastifyReply {
  const targets = [...new Set(formTargets.map(formTarget).filter((t): t is string => t !== undefined))]
  const images = reply.server.branding.imageOrigins
  const csp = [
    "default-src 'none'",
    "style-src 'self'",
    "script-src 'self'",
    "connect-src 'self'",
    `img-src 'self' data:${images.map((o) => ' ' + o).join('')}`,
    `form-action 'self'${targets.map((t) => ' ' + t).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ')
  const lang = /<html lang="([a-z]+)"/.exec(page.slice(0, 100))?.[1]
  if (lang) reply.header('content-language', lang)
  return reply.code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send(page)
}

/** An error page in the request's language. */
export function sendErrorPage (reply: FastifyReply, status: number, title: PageText, message: PageText): FastifyReply {
  const ctx = pageContext(reply.request)
  return sendPage(reply, status, errorPage(ctx, resolve(title, ctx.locale), resolve(message, ctx.locale)))
}

/**
 * A form whose CSRF token does not verify (an old tab, another browser, a forged post): logged as
 * `csrf_rejected` with the form's name, and a 403 page saying to start again. `message` names what
 * to start again.
 */
export function formExpiredPage (request: FastifyRequest, reply: FastifyReply, form: string, message: PageText): FastifyReply {
  request.log.warn({ event: 'csrf_rejected', form }, `${form} form without a valid CSRF token`)
  return sendErrorPage(reply, 403, 'error.formExpired.title', message)
}

/**
 * For the plugin of a browser-facing endpoint: a rate-limit refusal (429) is answered with an HTML
 * page and `Retry-After`, not the JSON body an API client gets; every other error goes on to the
 * app's error handler.
 */
export function browserErrorPages (app: FastifyInstance): void {
  app.setErrorHandler((err, _request, reply) => {
    if (!(err instanceof OAuthError) || err.statusCode !== 429) throw err
    if (app.hasDecorator('metrics')) app.metrics.errors.inc({ error: err.error })
    const retryAfter = Number(err.headers['retry-after'])
    reply.headers(err.headers)
    return sendErrorPage(reply, 429, 'error.tooMany.title',
      (l) => Number.isFinite(retryAfter) ? tn(l, 'error.tooMany.retry', retryAfter) : t(l, 'error.tooMany.later'))
  })
}

/** 303: after a POST the browser must GET the next page; for a GET it is the same as 302. */
export function redirect (reply: FastifyReply, location: string): FastifyReply {
  return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').redirect(location, 303)
}

/** RFC 6749 §4.1.2.1 error response, with `iss` (RFC 9207). */
export function redirectError (reply: FastifyReply, issuer: string, redirectUri: string, error: OAuthError, state: string | undefined): FastifyReply {
  return redirect(reply, redirectURL(redirectUri, { error: error.error, error_description: error.description, state, iss: issuer }))
}

/** Issues the code and sends the browser back to the client (RFC 6749 §4.1.2, RFC 9207). */
export async function redirectWithCode (app: FastifyInstance, reply: FastifyReply, request: Omit<ParkedRequest, 'id' | 'prompt' | 'maxAge' | 'loginHint' | 'sessionId' | 'acrValues' | 'factorUserId' | 'factorAmr'>, session: SessionRecord, user: UserRecord): Promise<FastifyReply> {
  const { code } = await app.sso.issueCode(request, session, user)
  reply.request.log.info({ event: 'authorization_code_issued', client_id: request.client.id, sid: session.id }, 'authorization code issued')
  return redirect(reply, redirectURL(request.redirectUri, { code, state: request.state, iss: publicIssuer(reply.request) }))
}

/** Completes a parked request exactly once: a resubmitted form finds it gone. */
export async function completeParked (app: FastifyInstance, reply: FastifyReply, parked: ParkedRequest, session: SessionRecord, user: UserRecord): Promise<FastifyReply> {
  if (!await app.sso.takeParked(parked.id)) return expiredRequestPage(reply)
  // The account page's own sign-in: back to the page it came from, no code.
  if (parked.client.id === ACCOUNT_CLIENT_ID) return redirect(reply, parked.redirectUri)
  return redirectWithCode(app, reply, parked, session, user)
}

export function expiredRequestPage (reply: FastifyReply): FastifyReply {
  return sendErrorPage(reply, 400, 'error.expired.title', 'error.expired.message')
}
