/**
 * Authorization server metadata (RFC 8414) and OpenID Provider metadata (OIDC Discovery 1.0),
 * computed from the configuration and the grant registry, never kept by hand.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../../config/env.js'
import { grants } from '../../grants/index.js'
import { CLIENT_AUTH_METHODS } from '../../domain/client_auth.js'
import { USER_BASELINE_SCOPES } from '../../domain/scopes.js'
import { SIGNING_ALGS } from '../../config/defaults.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { CODE_CHALLENGE_METHODS } from '../../domain/pkce.js'
import { CLAIMS_SUPPORTED } from '../../domain/oidc_claims.js'
import { PROMPT_VALUES, RESPONSE_MODES, RESPONSE_TYPES } from '../../domain/authorization_request.js'

/** Endpoint paths, relative to the issuer; routes register these same constants. */
export const ENDPOINTS = {
  token: '/token',
  revocation: '/revoke',
  introspection: '/introspect',
  jwks: '/jwks',
  authorization: '/authorize',
  userinfo: '/userinfo',
  endSession: '/logout',
  /** Hosted pages (not advertised). */
  login: '/login',
  consent: '/consent',
  /** RFC 7591 registration; RFC 7592 client configuration at `${registration}/${client_id}`. */
  registration: '/register',
} as const

export function metadata (config: Pick<Config, 'issuer'> & Partial<Pick<Config, 'clientMetadataDocuments' | 'registration'>>, signingAlgs: string[], dpopAlgs: readonly string[] = []) {
  const { issuer } = config
  const registration = config.registration !== undefined && config.registration !== 'off'
    ? { registration_endpoint: issuer + ENDPOINTS.registration }
    : {}
  const authMethods = CLIENT_AUTH_METHODS.filter((m) => m !== 'none')
  // The browser endpoints exist only while the authorization_code grant is registered.
  const codeFlow = grants.some((g) => g.grantType === 'authorization_code')
  const browser = codeFlow
    ? {
        authorization_endpoint: issuer + ENDPOINTS.authorization,
        userinfo_endpoint: issuer + ENDPOINTS.userinfo,
        end_session_endpoint: issuer + ENDPOINTS.endSession,
      }
    : {}
  return {
    issuer,
    ...browser,
    token_endpoint: issuer + ENDPOINTS.token,
    jwks_uri: issuer + ENDPOINTS.jwks,
    revocation_endpoint: issuer + ENDPOINTS.revocation,
    introspection_endpoint: issuer + ENDPOINTS.introspection,
    grant_types_supported: grants.map((g) => g.grantType),
    response_types_supported: codeFlow ? [...RESPONSE_TYPES] : [] as string[],
    response_modes_supported: codeFlow ? [...RESPONSE_MODES] : [] as string[],
    code_challenge_methods_supported: [...CODE_CHALLENGE_METHODS],
    prompt_values_supported: [...PROMPT_VALUES],
    scopes_supported: [...USER_BASELINE_SCOPES],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: authMethods,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: signingAlgs,
    // RFC 9068 access tokens are signed with the same keys.
    access_token_signing_alg_values_supported: signingAlgs,
    claims_supported: [...new Set([...CLAIMS_SUPPORTED, 'jti', 'client_id', 'scope'])],
    // RFC 9449 §5.1: the algorithms the proof validator accepts (the token endpoint and /userinfo).
    ...(dpopAlgs.length ? { dpop_signing_alg_values_supported: [...dpopAlgs] } : {}),
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    // RFC 9207: every authorization response carries iss.
    authorization_response_iss_parameter_supported: codeFlow,
    backchannel_logout_supported: codeFlow,
    backchannel_logout_session_supported: codeFlow,
    // draft-ietf-oauth-client-id-metadata-document §5: an https client_id is fetched as a document.
    client_id_metadata_document_supported: codeFlow && config.clientMetadataDocuments === true,
    ...registration,
  }
}

export default async function discoveryRoutes (app: FastifyInstance) {
  // RFC 9110 §12.5.5: when the document is derived from the forwarded headers, a cache must not
  // serve one public name's document for another.
  const vary = app.config.issuerFromProxy ? 'X-Forwarded-Host, X-Forwarded-Proto, Host' : undefined
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    if (vary) reply.header('vary', vary)
    // The algorithms of the published keys, so a migration between algorithms is advertised too.
    const algs = [...new Set([app.config.policy.signingAlg, ...app.keyring.published().map((k) => k.alg)])]
      .filter((a) => (SIGNING_ALGS as readonly string[]).includes(a))
    // Behind a trusted proxy without ISSUER, the issuer is the request's public origin.
    return metadata({ issuer: publicIssuer(request), clientMetadataDocuments: app.config.clientMetadataDocuments, registration: app.config.registration }, algs, app.dpop.algorithms)
  }
  const options = { logLevel: 'warn' as const }
  app.get('/.well-known/openid-configuration', options, handler)
  app.get('/.well-known/oauth-authorization-server', options, handler)
}
