/**
 * RFC 6749 §4.4 Client Credentials Grant. "The client credentials grant type MUST only be used by
 * confidential clients." No refresh token (§4.4.3: "A refresh token SHOULD NOT be included").
 *
 * @module
 */
import { parseScope, resolveAudience, resolveScope } from '../domain/scopes.js'
import { issueTokenPair } from './issue_pair.js'
import type { Grant } from './types.js'

export const clientCredentials: Grant = {
  grantType: 'client_credentials',
  parameters: ['scope'],
  allowPublicClients: false,
  async handler ({ client, params, resources, dpopJkt }, services) {
    const scope = resolveScope(parseScope(params.scope), client.scopes)
    const audience = resolveAudience(resources, client.audiences, services.issuer)
    return issueTokenPair({ client, sub: client.id, userId: null, scope, audience, refresh: false, jkt: dpopJkt }, services)
  },
}
