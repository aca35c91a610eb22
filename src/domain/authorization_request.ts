/**
 * Validation of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
 *
 * Two kinds of failure, in the order RFC 6749 §4.1.2.1 prescribes: while the client or its
 * redirect URI is in doubt, "the authorization server SHOULD inform the resource owner of the
 * error and MUST NOT automatically redirect the user-agent to the invalid redirection URI"
 * ({@link AuthorizationPageError}); once both are established, every other error goes back to the
 * client's redirect URI ({@link AuthorizationRedirectError}).
 *
 * @module
 */
import {
  InvalidRequest, InvalidScope, OAuthError, RequestNotSupported, RequestURINotSupported, UnauthorizedClient,
  UnsupportedResponseType,
} from '../errors.js'
import type { ClientRecord } from '../storage/types.js'
import { CODE_CHALLENGE_METHODS, isValidChallenge } from './pkce.js'
import { parseScope } from './scopes.js'
import { matchRegisteredURI, uriProblem } from './redirect_uris.js'
import { AUTHORIZATION_DEFAULT_LIMIT, authorizationParameterLimit, parameterLimit, tooLongDescription } from './parameter_limits.js'
import { ClientMetadataError } from './client_metadata.js'
import { PAR_URN_PREFIX } from './pushed_authorization.js'
import { JKT } from './dpop.js'

/** The only response type Stamp serves (no implicit or hybrid flows: RFC 9700 §2.1.2). */
export const RESPONSE_TYPES: readonly string[] = ['code']
export const RESPONSE_MODES: readonly string[] = ['query']
/** OIDC Core §3.1.2.1 prompt values Stamp acts on; others are ignored, as the spec allows. */
export const PROMPT_VALUES: readonly string[] = ['none', 'login', 'consent']

/**
 * Longest accepted value of each authorization request parameter, in characters. An anonymous
 * request that needs a sign-in is stored (parked) until the user signs in, so these bound what
 * one request can make Stamp write. The values live with every other limit in parameter_limits.ts.
 */
export const AUTHORIZATION_REQUEST_LIMITS = {
  state: parameterLimit('state'),
  nonce: parameterLimit('nonce'),
  login_hint: parameterLimit('login_hint'),
  scope: parameterLimit('scope'),
  default: AUTHORIZATION_DEFAULT_LIMIT,
} as const


/** Why a request cannot even be answered at the client (the page's message key: `authorize.error.<reason>`). */
export type AuthorizationPageReason =
  | 'client_id_repeated' | 'client_id_missing' | 'metadata_unusable' | 'unknown_client'
  | 'redirect_uri_repeated' | 'redirect_uri_missing' | 'redirect_uri_unregistered' | 'redirect_uri_refused'
  | 'request_uri_repeated' | 'request_uri_unusable' | 'request_repeated' | 'request_object_refused'

export class AuthorizationPageError extends Error {
  override name = 'AuthorizationPageError'
  readonly reason: AuthorizationPageReason
  /** A detail to show (the metadata document's problem). */
  readonly detail?: string

  constructor (reason: AuthorizationPageReason, message: string, detail?: string) {
    super(message)
    this.reason = reason
    this.detail = detail
  }
}

export class AuthorizationRedirectError extends Error {
  override name = 'AuthorizationRedirectError'
  readonly error: OAuthError
  readonly redirectUri: string
  readonly state: string | undefined

  constructor (error: OAuthError, redirectUri: string, state: string | undefined) {
    super(error.description, { cause: error })
    this.error = error
    this.redirectUri = redirectUri
    this.state = state
  }
}

export interface AuthorizationRequest {
  client: ClientRecord
  redirectUri: string
  /** Whether the request named redirect_uri (RFC 6749 §4.1.3: then /token must repeat it). */
  redirectUriSent: boolean
  scopes: string[]
  state?: string
  nonce?: string
  codeChallenge?: string
  codeChallengeMethod?: string
  prompt: string[]
  /** Seconds. */
  maxAge?: number
  loginHint?: string
  /** OIDC Core §3.1.2.1 acr_values, space-separated on the wire, in order of preference. */
  acrValues: string[]
  /** RFC 9449 §10 `dpop_jkt`: the code gets bound to this DPoP key thumbprint. */
  dpopJkt?: string
}

type Params = Record<string, string[]>

/** RFC 6749 §3.1: an empty value is an omitted parameter; a repeated one is an error. */
function one (params: Params, name: string): string | undefined | null {
  const values = params[name]
  if (!values?.length) return undefined
  if (values.length > 1) return null
  return values[0] === '' ? undefined : values[0]
}

/**
 * Where parameters may come from besides the request itself. Absent: `request` and `request_uri`
 * are refused as before.
 */
export interface RequestSources {
  /** RFC 9126 §4: consumes the pushed request `requestUri` of `client`; null when unknown, used or expired. */
  pushed?: (requestUri: string, client: ClientRecord) => Promise<Params | null>
  /** RFC 9101: the verified parameters of `client`'s signed request object; throws OAuthError. */
  requestObject?: (jwt: string, client: ClientRecord) => Promise<Params>
  /** Whether `client` must come through /par (RFC 9126 §5 and §6). */
  pushRequired?: (client: ClientRecord) => boolean
}

export async function validateAuthorizationRequest (
  incoming: Params,
  findClient: (id: string) => Promise<ClientRecord | null>,
  sources: RequestSources = {},
): Promise<AuthorizationRequest> {
  let params = incoming
  const clientId = one(params, 'client_id')
  if (clientId === null) throw new AuthorizationPageError('client_id_repeated', 'The client_id parameter was repeated.')
  if (clientId === undefined) throw new AuthorizationPageError('client_id_missing', 'The request does not name a client (client_id is missing).')
  let client: ClientRecord | null
  try {
    client = await findClient(clientId)
  } catch (err) {
    // A client ID metadata document that cannot be used: say why, without redirecting anywhere.
    if (err instanceof ClientMetadataError) throw new AuthorizationPageError('metadata_unusable', `The application's metadata document could not be used: ${err.description}.`, err.description)
    throw err
  }
  if (!client) throw new AuthorizationPageError('unknown_client', 'The application that sent you here is not registered with this server.')

  // RFC 9126 §4 / RFC 9101 §5: with request_uri or request, only those parameters (and client_id) count.
  let pushed = false
  const requestUri = one(params, 'request_uri')
  if (requestUri === null) throw new AuthorizationPageError('request_uri_repeated', 'The request_uri parameter was repeated.')
  if (requestUri?.startsWith(PAR_URN_PREFIX) && sources.pushed) {
    const stored = await sources.pushed(requestUri, client)
    if (!stored) throw new AuthorizationPageError('request_uri_unusable', 'This sign-in request has expired or was already used (invalid_request_uri). Go back to the application and start again.')
    params = { ...stored, client_id: [clientId] }
    pushed = true
  } else if (params.request && sources.requestObject) {
    const jwt = one(params, 'request')
    if (!jwt) throw new AuthorizationPageError('request_repeated', 'The request parameter was repeated or empty.')
    try {
      params = { ...await sources.requestObject(jwt, client), client_id: [clientId] }
    } catch (err) {
      // Its redirect_uri is unproven while the object is: shown here, never redirected to.
      if (err instanceof OAuthError) throw new AuthorizationPageError('request_object_refused', `The application's signed request was refused (${err.error}): ${err.description}.`, `${err.error}: ${err.description}`)
      throw err
    }
  }

  const requestedRedirect = one(params, 'redirect_uri')
  if (requestedRedirect === null) throw new AuthorizationPageError('redirect_uri_repeated', 'The redirect_uri parameter was repeated.')
  const scopeValue = one(params, 'scope')
  let redirectUri: string
  if (requestedRedirect === undefined) {
    // RFC 6749 §3.1.2.3 lets a client with one registered URI omit it; OIDC Core §3.1.2.1 does not.
    const openid = typeof scopeValue === 'string' && scopeValue.split(' ').includes('openid')
    if (client.redirectUris.length !== 1 || openid) throw new AuthorizationPageError('redirect_uri_missing', 'The request does not say where to return (redirect_uri is missing).')
    redirectUri = client.redirectUris[0]
  } else {
    // RFC 9700 §4.1.3: exact string matching, no patterns, no prefix matching (loopback http: any port, RFC 8252 §7.3).
    if (matchRegisteredURI(client.redirectUris, requestedRedirect) === undefined) {
      throw new AuthorizationPageError('redirect_uri_unregistered', 'The application asked to return to an address that is not registered for it.')
    }
    redirectUri = requestedRedirect
  }
  // A URI registered before today's rules (javascript:, plain http, userinfo...) is never used.
  if (uriProblem(redirectUri, 'redirect_uri')) throw new AuthorizationPageError('redirect_uri_refused', 'The application asked to return to an address this server does not send browsers to.')

  const stateValue = one(params, 'state')
  // Values the client round-trips are stored while the user signs in: limits in parameter_limits.ts.
  const state = typeof stateValue === 'string' && stateValue.length <= parameterLimit('state') ? stateValue : undefined
  const fail = (error: OAuthError): never => { throw new AuthorizationRedirectError(error, redirectUri, state) }

  if (stateValue === null) fail(new InvalidRequest('state is repeated'))
  if (typeof stateValue === 'string' && stateValue.length > parameterLimit('state')) fail(new InvalidRequest(tooLongDescription('state')))
  if (params.request) fail(new RequestNotSupported('request objects are not supported'))
  // RFC 9101 §5.2: only references Stamp issued itself (RFC 9126) are dereferenced.
  if (params.request_uri) fail(new RequestURINotSupported('request_uri is only accepted for pushed authorization requests (urn:ietf:params:oauth:request_uri:)'))
  if (!pushed && sources.pushRequired?.(client)) fail(new InvalidRequest('this client must push its authorization requests to the pushed_authorization_request_endpoint (RFC 9126) first'))
  for (const name in params) {
    if (params[name].length > 1) fail(new InvalidRequest(`parameter ${name} is repeated`))
  }
  const value = (name: string): string | undefined => {
    const v = one(params, name) as string | undefined
    if (v !== undefined && v.length > authorizationParameterLimit(name)) fail(new InvalidRequest(tooLongDescription(name, authorizationParameterLimit(name))))
    return v
  }

  const responseType = value('response_type')
  if (responseType === undefined) fail(new InvalidRequest('response_type is required'))
  if (!RESPONSE_TYPES.includes(responseType!)) fail(new UnsupportedResponseType(`response_type ${responseType} is not supported; use code`))
  const responseMode = value('response_mode')
  if (responseMode !== undefined && !RESPONSE_MODES.includes(responseMode)) fail(new InvalidRequest(`response_mode ${responseMode} is not supported`))
  if (!client.grantTypes.includes('authorization_code')) fail(new UnauthorizedClient('this client may not use the authorization code flow'))

  let scopes: string[]
  try {
    scopes = parseScope(value('scope')) ?? [...client.scopes]
  } catch (err) {
    return fail(err as OAuthError)
  }
  const refused = scopes.filter((s) => !client.scopes.includes(s))
  if (refused.length) fail(new InvalidScope(`scope not allowed for this client: ${refused.join(' ')}`))

  // RFC 7636 §4.3: "defaults to plain if not present in the request" — and plain is refused.
  const codeChallenge = value('code_challenge')
  const codeChallengeMethod = value('code_challenge_method')
  if (codeChallenge === undefined) {
    if (codeChallengeMethod !== undefined) fail(new InvalidRequest('code_challenge_method without code_challenge'))
    // RFC 9700 §2.1.1: public clients MUST use PKCE; RFC 7636 §4.4.1: a server that requires it
    // answers "invalid_request" explaining "code challenge required".
    if (client.public) fail(new InvalidRequest('PKCE is required for public clients: send code_challenge with code_challenge_method=S256'))
    if (client.requirePkce) fail(new InvalidRequest('code challenge required: this client must use PKCE (code_challenge with code_challenge_method=S256)'))
  } else {
    if (codeChallengeMethod === undefined || !(CODE_CHALLENGE_METHODS as readonly string[]).includes(codeChallengeMethod)) {
      fail(new InvalidRequest('code_challenge_method must be S256 (plain is not supported)'))
    }
    if (!isValidChallenge(codeChallenge, codeChallengeMethod!)) fail(new InvalidRequest('code_challenge is malformed'))
  }

  const prompt = (value('prompt') ?? '').split(' ').filter((p) => PROMPT_VALUES.includes(p))
  // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
  if (prompt.includes('none') && prompt.length > 1) fail(new InvalidRequest('prompt=none cannot be combined with other values'))

  const maxAgeValue = value('max_age')
  let maxAge: number | undefined
  if (maxAgeValue !== undefined) {
    if (!/^\d{1,9}$/.test(maxAgeValue)) fail(new InvalidRequest('max_age must be a non-negative integer'))
    maxAge = Number(maxAgeValue)
  }

  // RFC 9449 §10: the base64url SHA-256 thumbprint of the key the client will prove at /token.
  const dpopJkt = value('dpop_jkt')
  if (dpopJkt !== undefined && !JKT.test(dpopJkt)) fail(new InvalidRequest('dpop_jkt must be a base64url SHA-256 JWK thumbprint'))

  return {
    client,
    redirectUri,
    redirectUriSent: requestedRedirect !== undefined,
    dpopJkt,
    scopes,
    state,
    nonce: value('nonce'),
    codeChallenge,
    codeChallengeMethod: codeChallenge === undefined ? undefined : codeChallengeMethod,
    prompt,
    maxAge,
    loginHint: value('login_hint'),
    acrValues: (value('acr_values') ?? '').split(' ').filter(Boolean),
  }
}

/**
 * Builds the redirect back to the client (RFC 6749 §4.1.2): the client's own query is kept, our
 * parameters are added; `iss` per RFC 9207 §2 so the client can tell which server answered.
 */
export function redirectURL (redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri)
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value)
  }
  return url.toString()
}
