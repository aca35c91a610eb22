/**
 * The one place that says how long a request parameter may be, for every endpoint: the token,
 * revocation and introspection forms, /authorize, the hosted pages, /logout and /userinfo.
 * A longer value is an error (invalid_request, or an error page), never silently dropped: a
 * dropped `id_token_hint` used to turn a logout into a confirmation page, a dropped username into
 * "enter your username".
 *
 * Values the browser round-trips are also stored while the user signs in (state, nonce,
 * login_hint...), so their limits bound the size of a parked request.
 *
 * @module
 */

/** Any parameter not listed below. */
export const DEFAULT_PARAMETER_LIMIT = 2048

/** Characters per parameter value, by name. */
export const PARAMETER_LIMITS: Readonly<Record<string, number>> = {
  // Tokens Stamp issued, presented back: JWTs with claims (OIDC RP-Initiated Logout §2 id_token_hint).
  id_token_hint: 8192,
  access_token: 8192,
  refresh_token: 8192,
  token: 8192,
  // As the admin API's schema (src/schemas/admin.ts) and the password policy allow at most.
  username: 1024,
  password: 1024,
  // Round-tripped by the browser and parked with the request while the user signs in: state and
  // nonce are usually 22-64 random characters, login_hint an email address (at most 254).
  state: 512,
  nonce: 255,
  login_hint: 255,
  // Scope names must also be registered for the client, which bounds them further.
  scope: 1024,
  // A WebAuthn response as JSON (attestation `none`: a public key, authenticator data, client data).
  credential: 16384,
}

/**
 * Any other /authorize parameter: each is parked with the request until the user signs in, so
 * this bounds what one anonymous request can make Stamp write (the redirect URI must in addition
 * match a registered one).
 */
export const AUTHORIZATION_DEFAULT_LIMIT = 512

export function authorizationParameterLimit (name: string): number {
  return Object.hasOwn(PARAMETER_LIMITS, name) ? PARAMETER_LIMITS[name] : AUTHORIZATION_DEFAULT_LIMIT
}

export function parameterLimit (name: string): number {
  return Object.hasOwn(PARAMETER_LIMITS, name) ? PARAMETER_LIMITS[name] : DEFAULT_PARAMETER_LIMIT
}

/** The name of the first parameter with a value over its limit, or undefined. */
export function overLongParameter (params: Record<string, readonly string[]>): string | undefined {
  for (const name in params) {
    const limit = parameterLimit(name)
    if (params[name].some((value) => value.length > limit)) return name
  }
  return undefined
}

export function tooLongDescription (name: string, limit = parameterLimit(name)): string {
  return `${name} is too long (at most ${limit} characters)`
}
