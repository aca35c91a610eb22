/**
 * The grant registry: every grant type Stamp can serve. The token route, discovery and the CLI
 * all read this list, so what is advertised is what is served.
 *
 * @module
 */
import { authorizationCode } from './authorization_code.js'
import { clientCredentials } from './client_credentials.js'
import { password } from './password.js'
import { refreshToken } from './refresh_token.js'
import { deviceCode } from './device_code.js'
import { tokenExchange } from './token_exchange.js'
import type { Grant } from './types.js'

export const grants: readonly Grant[] = [authorizationCode, password, refreshToken, clientCredentials, deviceCode, tokenExchange]

export const grantsByType: ReadonlyMap<string, Grant> = new Map(grants.map((g) => [g.grantType, g]))

export type { Grant, GrantServices, TokenResponse } from './types.js'
