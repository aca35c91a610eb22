/**
 * The admin console's OAuth client, which Stamp registers for itself: a public, first-party
 * client for the authorization code flow with PKCE (S256) and the `stamp:admin` scope, whose only
 * redirect URI is the console's own callback on the issuer (draft-ietf-oauth-browser-based-apps
 * §6.3, a browser-based OAuth client; RFC 9700 §2.1.1, PKCE for public clients).
 *
 * Idempotent: every boot makes the stored record match what the console needs (redirect URIs
 * follow the issuer), except `disabled` (and a revocation), which stay the operator's switch to turn the console's
 * sign-in off. Concurrent boots race on the primary key; the loser finds the winner's row.
 *
 * @module
 */
import { uriProblem } from './redirect_uris.js'
import type { ClientRecord, ClientStore } from '../storage/types.js'

export const CONSOLE_CLIENT_ID = 'stamp-console'
/** The admin API's scope (ADMIN_SCOPE in schemas/admin.ts, which the domain layer does not import). */
const ADMIN_SCOPE = 'stamp:admin'
export const CONSOLE_PATH = '/console'
/** What the console asks for: the admin API, and refresh tokens to keep a 5-minute access token fresh. */
export const CONSOLE_SCOPES = ['openid', 'profile', ADMIN_SCOPE] as const

export function consoleRedirectURI (issuer: string): string {
  return `${issuer}${CONSOLE_PATH}/callback`
}

/** The settings the console's client must have for `issuer`. */
export function consoleClientSettings (issuer: string): Omit<ClientRecord, 'id' | 'secretHash' | 'disabled'> {
  return {
    name: 'Stamp admin console',
    public: true,
    firstParty: true,
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [consoleRedirectURI(issuer)],
    postLogoutRedirectUris: [`${issuer}${CONSOLE_PATH}/`],
    backchannelLogoutUri: null,
    scopes: [...CONSOLE_SCOPES],
    audiences: [],
    requirePkce: true,
    origin: 'admin',
  }
}

export type ConsoleClientOutcome = 'created' | 'updated' | 'unchanged' | { refused: string }

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Creates or repairs the console's client. Refuses (without touching the store) when the issuer
 * cannot carry a redirect URI (http on a non-loopback host): the console then explains that
 * sign-in needs an https ISSUER.
 */
export async function ensureConsoleClient (clients: ClientStore, issuer: string): Promise<ConsoleClientOutcome> {
  const settings = consoleClientSettings(issuer)
  const problem = uriProblem(settings.redirectUris[0], 'redirect_uri')
  if (problem) return { refused: `${problem}: ${settings.redirectUris[0]}` }
  const current = await clients.find(CONSOLE_CLIENT_ID)
  if (!current) {
    try {
      await clients.create({ id: CONSOLE_CLIENT_ID, secretHash: null, ...settings })
      return 'created'
    } catch (err) {
      // Another instance booting at the same time created it first.
      if ((err as { code?: string }).code !== 'P2002') throw err
      return ensureConsoleClient(clients, issuer)
    }
  }
  const upToDate = current.public && current.firstParty && current.requirePkce && current.secretHash === null &&
    same(current.grantTypes, settings.grantTypes) && same(current.redirectUris, settings.redirectUris) &&
    same(current.postLogoutRedirectUris, settings.postLogoutRedirectUris) && same(current.scopes, settings.scopes) &&
    current.audiences.length === 0 && current.backchannelLogoutUri === null
  if (upToDate) return 'unchanged'
  const { origin: _origin, ...patch } = settings
  await clients.update(CONSOLE_CLIENT_ID, { ...patch, secretHash: null })
  return 'updated'
}
