/**
 * Authorization server metadata (RFC 8414) and OpenID Provider metadata (OIDC Discovery 1.0),
 * computed from the configuration and the grant registry, never kept by hand.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../../config/env.js'
import { grants } from '../../grants/index.js'
import { CLIENT_AUTH_METHODS } from '../../domain/client_auth.js'
import { USER_BASELINE_SCOPES } from '../../domain/scopes.js'
import { SIGNING_ALGS } from '../../config/defaults.js'
import { publicIssuer } from '../../http/public_issuer.js'

/** Endpoint paths, relative to the issuer; routes register these same constants. */
export const ENDPOINTS = {
  token: '/token',
  revocation: '/revoke',
  introspection: '/introspect',
  jwks: '/jwks',
} as const

export function metadata (config: Pick<Config, 'issuer'>, signingAlgs: string[]) {
  const { issuer } = config
  const authMethods = CLIENT_AUTH_METHODS.filter((m) => m !== 'none')
  return {
    issuer,
    token_endpoint: issuer + ENDPOINTS.token,
    jwks_uri: issuer + ENDPOINTS.jwks,
    revocation_endpoint: issuer + ENDPOINTS.revocation,
    introspection_endpoint: issuer + ENDPOINTS.introspection,
    grant_types_supported: grants.map((g) => g.grantType),
    response_types_supported: [] as string[],
    scopes_supported: [...USER_BASELINE_SCOPES],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: authMethods,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: signingAlgs,
    // RFC 9068 access tokens are signed with the same keys.
    access_token_signing_alg_values_supported: signingAlgs,
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'auth_time'],
  }
}

export default async function discoveryRoutes (app: FastifyInstance) {
  const handler = async (request: FastifyRequest) => {
    // The algorithms of the published keys, so a migration between algorithms is advertised too.
    const algs = [...new Set([app.config.policy.signingAlg, ...app.keyring.published().map((k) => k.alg)])]
      .filter((a) => (SIGNING_ALGS as readonly string[]).includes(a))
    // Behind a trusted proxy without ISSUER, the issuer is the request's public origin.
    return metadata({ issuer: publicIssuer(request) }, algs)
  }
  const options = { logLevel: 'warn' as const }
  app.get('/.well-known/openid-configuration', options, handler)
  app.get('/.well-known/oauth-authorization-server', options, handler)
}
