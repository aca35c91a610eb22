/**
 * Sign-in for the console: OAuth 2 authorization code with PKCE (RFC 7636, S256) as the public
 * client `stamp-console`, through Stamp's own hosted login page, following
 * draft-ietf-oauth-browser-based-apps (§6.3 "Browser-based OAuth client"):
 *
 * - Tokens live in this module's variables only: never in localStorage or sessionStorage, so a
 *   reload or a new tab signs in again (silently while Stamp's SSO session lasts).
 * - Only the PKCE verifier, the `state` and the page to return to survive the redirect, in
 *   sessionStorage, removed as soon as the callback reads them (they are not tokens, and
 *   useless without the authorization code).
 * - `state` is compared on return (RFC 6749 §10.12: a forged callback is refused).
 * - The 5-minute access token is refreshed shortly before it expires with the rotating refresh
 *   token (RFC 9700 §4.14.2); concurrent calls share one refresh.
 *
 * @module
 */

export interface ConsoleConfig {
  issuer: string
  client_id: string
  redirect_uri: string
  scope: string
  authorization_endpoint: string
  token_endpoint: string
  revocation_endpoint: string
  end_session_endpoint: string
  sign_in_unavailable: string | null
}

export interface Principal {
  sub: string
  name: string
  scopes: string[]
}

interface TokenResponse {
  access_token: string
  expires_in: number
  refresh_token?: string
  id_token?: string
  scope?: string
}

export const ADMIN_SCOPE = 'stamp:admin'
const PENDING_KEY = 'stamp-console:pending-sign-in'

let config: ConsoleConfig | undefined
let accessToken: string | undefined
let accessTokenExpiresAt = 0
let refreshToken: string | undefined
let idToken: string | undefined
let refreshing: Promise<void> | undefined

export class SignInError extends Error {
  override name = 'SignInError'
}

export async function loadConfig (): Promise<ConsoleConfig> {
  if (config) return config
  const res = await fetch('/console/config.json', { headers: { accept: 'application/json' } })
  if (!res.ok) throw new SignInError(`the console's configuration could not be loaded (HTTP ${res.status})`)
  config = await res.json() as ConsoleConfig
  return config
}

function base64url (bytes: Uint8Array): string {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function randomValue (): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)))
}

/** Sends the browser to Stamp's authorization endpoint; comes back to /console/callback. */
export async function signIn (returnTo: string, options: { prompt?: 'login' } = {}): Promise<never> {
  const c = await loadConfig()
  if (c.sign_in_unavailable) throw new SignInError(c.sign_in_unavailable)
  const verifier = randomValue()
  const state = randomValue()
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))))
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo }))
  const url = new URL(c.authorization_endpoint)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: c.client_id,
    redirect_uri: c.redirect_uri,
    scope: c.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(options.prompt ? { prompt: options.prompt } : {}),
  }).toString()
  location.assign(url.href)
  return new Promise<never>(() => {})
}

async function tokenRequest (form: Record<string, string>): Promise<TokenResponse> {
  const c = await loadConfig()
  const res = await fetch(c.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ client_id: c.client_id, ...form }),
  })
  const body = await res.json().catch(() => ({})) as TokenResponse & { error?: string, error_description?: string }
  if (!res.ok) throw new SignInError(body.error_description ?? body.error ?? `token request failed (HTTP ${res.status})`)
  return body
}

function keep (tokens: TokenResponse): void {
  accessToken = tokens.access_token
  // Refresh 30 s early, so a call never leaves with a token about to expire.
  accessTokenExpiresAt = Date.now() + (tokens.expires_in - 30) * 1000
  if (tokens.refresh_token) refreshToken = tokens.refresh_token
  if (tokens.id_token) idToken = tokens.id_token
}

/**
 * Completes the sign-in on /console/callback: checks `state`, exchanges the code with the
 * verifier, and returns the path the user was on.
 */
export async function completeSignIn (query: URLSearchParams): Promise<string> {
  const pending = sessionStorage.getItem(PENDING_KEY)
  sessionStorage.removeItem(PENDING_KEY)
  const saved = pending ? JSON.parse(pending) as { verifier: string, state: string, returnTo: string } : undefined
  if (query.get('error')) throw new SignInError(query.get('error_description') ?? query.get('error')!)
  if (!saved || !query.get('state') || query.get('state') !== saved.state) {
    throw new SignInError('this sign-in response does not belong to a sign-in started here (state mismatch); sign in again')
  }
  const code = query.get('code')
  if (!code) throw new SignInError('the sign-in response carries no authorization code')
  const c = await loadConfig()
  keep(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: c.redirect_uri, code_verifier: saved.verifier }))
  return saved.returnTo.startsWith('/console/') ? saved.returnTo : '/console/'
}

/** The signed-in user as the tokens describe them (display only: the admin API decides). */
export function principal (scope?: string): Principal | undefined {
  if (!accessToken) return undefined
  const claims = decodePayload(idToken ?? accessToken)
  const tokenClaims = decodePayload(accessToken)
  const scopes = String(scope ?? tokenClaims.scope ?? '').split(' ').filter(Boolean)
  return { sub: String(claims.sub ?? ''), name: String(claims.preferred_username ?? claims.name ?? claims.sub ?? ''), scopes }
}

function decodePayload (jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (ch) => ch.charCodeAt(0)))) as Record<string, unknown>
  } catch {
    return {}
  }
}

export function isSignedIn (): boolean {
  return accessToken !== undefined
}

/** A current access token, refreshed when it is about to expire; undefined when signed out. */
export async function currentAccessToken (): Promise<string | undefined> {
  if (!accessToken) return undefined
  if (Date.now() < accessTokenExpiresAt) return accessToken
  await renew()
  return accessToken
}

/** Refreshes now (after a 401, e.g. the signing key was revoked); false when that failed. */
export async function renew (): Promise<boolean> {
  if (!refreshToken) { forget(); return false }
  refreshing ??= tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken })
    .then(keep, () => forget())
    .finally(() => { refreshing = undefined })
  await refreshing
  return accessToken !== undefined
}

function forget (): void {
  accessToken = undefined
  refreshToken = undefined
  accessTokenExpiresAt = 0
}

/** Revokes the refresh token (RFC 7009), then ends the SSO session at Stamp (RP-initiated logout). */
export async function signOut (): Promise<never> {
  const c = await loadConfig()
  if (refreshToken) {
    await fetch(c.revocation_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: c.client_id, token: refreshToken, token_type_hint: 'refresh_token' }),
    }).catch(() => undefined)
  }
  const hint = idToken
  forget()
  idToken = undefined
  const url = new URL(c.end_session_endpoint)
  url.search = new URLSearchParams({ client_id: c.client_id, post_logout_redirect_uri: `${c.issuer}/console/`, ...(hint ? { id_token_hint: hint } : {}) }).toString()
  location.assign(url.href)
  return new Promise<never>(() => {})
}
