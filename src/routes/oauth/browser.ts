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
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../../errors.js'
import { redirectURL } from '../../domain/authorization_request.js'
import { newSecret } from '../../domain/browser_secrets.js'
import { ACCOUNT_CLIENT_ID, type ParkedRequest } from '../../domain/sso.js'
import { publicIssuer } from '../../http/public_issuer.js'
import type { SessionRecord, UserRecord } from '../../storage/types.js'
import { errorPage } from './views.js'

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

export function nonce (): string {
  return randomBytes(16).toString('base64')
}

/**
 * Sends an HTML page with the security headers every hosted page gets. `formTargets` are the
 * URIs a form on the page may redirect to: Chromium enforces `form-action` on the redirect after a
 * form post too, so the client's redirect URI must be listed.
 */
export function sendPage (reply: FastifyReply, status: number, page: string, pageNonce: string, formTargets: string[] = [], options: { scripts?: boolean } = {}): FastifyReply {
  const targets = [...new Set(formTargets.map(formTarget).filter((t): t is string => t !== undefined))]
  const csp = [
    "default-src 'none'",
    // Pages with passkeys load static same-origin scripts (routes/static.ts) that fetch
    // WebAuthn options from Stamp; never inline script.
    ...(options.scripts ? ["script-src 'self'", "connect-src 'self'"] : []),
    `style-src 'nonce-${pageNonce}'`,
    "img-src 'self' data:",
    `form-action 'self'${targets.map((t) => ' ' + t).join('')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ')
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

export function sendErrorPage (reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  const n = nonce()
  return sendPage(reply, status, errorPage(n, title, message), n)
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
    const when = Number.isFinite(retryAfter) ? `in ${retryAfter} second${retryAfter === 1 ? '' : 's'}` : 'in a moment'
    reply.headers(err.headers)
    return sendErrorPage(reply, 429, 'Too many requests', `Too many requests came from your network. Try again ${when}.`)
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
  return sendErrorPage(reply, 400, 'This sign-in link has expired',
    'The request has expired, was already completed, or was started in another browser. Go back to the application and try again.')
}
