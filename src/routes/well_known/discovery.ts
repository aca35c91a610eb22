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
import { CLIENT_SIGNING_ALGS } from '../../domain/client_keys.js'
import { USER_BASELINE_SCOPES } from '../../domain/scopes.js'
import { SIGNING_ALGS } from '../../config/defaults.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { CODE_CHALLENGE_METHODS } from '../../domain/pkce.js'
import { CLAIMS_SUPPORTED } from '../../domain/oidc_claims.js'
import { ACR_VALUES } from '../../domain/authentication_methods.js'
import { PROMPT_VALUES, RESPONSE_MODES, RESPONSE_TYPES } from '../../domain/authorization_request.js'
import { DEVICE_CODE_GRANT } from '../../domain/device_flow.js'
import { LOCALES } from '../../i18n/messages.js'

/** Endpoint paths, relative to the issuer; routes register these same constants. */
export const ENDPOINTS = {
  token: '/token',
  revocation: '/revoke',
  introspection: '/introspect',
  /** RFC 9126 pushed authorization requests. */
  pushedAuthorization: '/par',
  jwks: '/jwks',
  authorization: '/authorize',
  userinfo: '/userinfo',
  endSession: '/logout',
  /** Hosted pages (not advertised). */
  login: '/login',
  /** Second factor, enrolment, and the step after it (routes/oauth/second_factor.ts). */
  loginFactor: '/login/factor',
  loginEnrol: '/login/enrol',
  loginContinue: '/login/continue',
  /** Passkey enrolment at sign-in: WebAuthn options, then the new credential (routes/oauth/passkey_enrolment.ts). */
  loginEnrolPasskeyOptions: '/login/enrol/passkey/options',
  loginEnrolPasskey: '/login/enrol/passkey',
  /** Passkey sign-in: WebAuthn options, then the assertion (routes/oauth/passkey_login.ts). */
  passkeyOptions: '/login/passkey/options',
  passkeyLogin: '/login/passkey',
  consent: '/consent',
  /** The self-service account page (routes/account/). */
  account: '/account',
  /** RFC 7591 registration; RFC 7592 client configuration at `${registration}/${client_id}`. */
  registration: '/register',
  /** RFC 8628 §3.1 device authorization endpoint, and §3.3 the verification URI (a hosted page). */
  deviceAuthorization: '/device_authorization',
  device: '/device',
} as const

export function metadata (config: Pick<Config, 'issuer'> & Partial<Pick<Config, 'clientMetadataDocuments' | 'registration'>> & { pushRequired?: boolean }, signingAlgs: string[], dpopAlgs: readonly string[] = []) {
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
        // RFC 9126 §5.
        pushed_authorization_request_endpoint: issuer + ENDPOINTS.pushedAuthorization,
        require_pushed_authorization_requests: config.pushRequired === true,
      }
    : {}
  // RFC 8628 §4: advertised while the device_code grant is registered.
  const device = grants.some((g) => g.grantType === DEVICE_CODE_GRANT) ? { device_authorization_endpoint: issuer + ENDPOINTS.deviceAuthorization } : {}
  return {
    issuer,
    ...browser,
    token_endpoint: issuer + ENDPOINTS.token,
    jwks_uri: issuer + ENDPOINTS.jwks,
    revocation_endpoint: issuer + ENDPOINTS.revocation,
    introspection_endpoint: issuer + ENDPOINTS.introspection,
    ...device,
    grant_types_supported: grants.map((g) => g.grantType),
    response_types_supported: codeFlow ? [...RESPONSE_TYPES] : [] as string[],
    response_modes_supported: codeFlow ? [...RESPONSE_MODES] : [] as string[],
    code_challenge_methods_supported: [...CODE_CHALLENGE_METHODS],
    prompt_values_supported: [...PROMPT_VALUES],
    scopes_supported: [...USER_BASELINE_SCOPES],
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: authMethods,
    introspection_endpoint_auth_methods_supported: authMethods,
    // private_key_jwt (RFC 8414 §2): the algorithms client assertions may use.
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_SIGNING_ALGS],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_SIGNING_ALGS],
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_SIGNING_ALGS],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: signingAlgs,
    // RFC 9068 access tokens are signed with the same keys.
    access_token_signing_alg_values_supported: signingAlgs,
    claims_supported: [...new Set([...CLAIMS_SUPPORTED, 'jti', 'client_id', 'scope'])],
    // OIDC Discovery §3: the classes `acr_values` may ask for (domain/authentication_methods.ts).
    ...(codeFlow ? { acr_values_supported: [...ACR_VALUES] } : {}),
    // OIDC Discovery §3: the languages the hosted pages are rendered in (the message catalogues).
    ...(codeFlow ? { ui_locales_supported: [...LOCALES] } : {}),
    // RFC 9449 §5.1: the algorithms the proof validator accepts (the token endpoint and /userinfo).
    ...(dpopAlgs.length ? { dpop_signing_alg_values_supported: [...dpopAlgs] } : {}),
    claims_parameter_supported: false,
    // RFC 9101: signed request objects by value; by reference only the request_uri /par issues
    // (RFC 9126), which is not what request_uri_parameter_supported advertises (fetching URLs).
    request_parameter_supported: codeFlow,
    request_uri_parameter_supported: false,
    request_object_signing_alg_values_supported: codeFlow ? [...CLIENT_SIGNING_ALGS] : [] as string[],
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
    return metadata({
      issuer: publicIssuer(request), clientMetadataDocuments: app.config.clientMetadataDocuments, registration: app.config.registration,
      pushRequired: app.config.policy.pushedAuthorizationRequests.required,
    }, algs, app.dpop.algorithms)
  }
  const options = { logLevel: 'warn' as const }
  app.get('/.well-known/openid-configuration', options, handler)
  app.get('/.well-known/oauth-authorization-server', options, handler)
}
