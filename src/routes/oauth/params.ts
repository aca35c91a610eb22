/**
 * Reading OAuth parameters from a parsed form body, with RFC 6749 §3.1's rules.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import { InvalidClient, InvalidRequest } from '../../errors.js'
import type { FormBody } from '../../plugins/form_body.js'
import { authenticateClient, presentedClientId, type AuthenticatedClient, type ClientCache, type ClientCredentials } from '../../domain/client_auth.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { overLongParameter, tooLongDescription } from '../../domain/parameter_limits.js'

/** Parameters that may legitimately repeat (RFC 8707 §2: `resource`). */
const MULTI_VALUED = new Set(['resource'])

/** The form body, or invalid_request when the request was not form-encoded. */
export function formOf (request: FastifyRequest): FormBody {
  const body = request.body
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.getPrototypeOf(body) !== null) {
    throw new InvalidRequest('the request body must be application/x-www-form-urlencoded')
  }
  const form = body as FormBody
  for (const name in form) {
    if (form[name].length > 1 && !MULTI_VALUED.has(name)) throw new InvalidRequest(`parameter ${name} is repeated`)
  }
  const long = overLongParameter(form)
  if (long !== undefined) throw new InvalidRequest(tooLongDescription(long))
  return form
}

/** RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted." */
export function single (form: FormBody, name: string): string | undefined {
  const value = form[name]?.[0]
  return value === '' ? undefined : value
}

export function multi (form: FormBody, name: string): string[] | undefined {
  const values = form[name]?.filter((v) => v !== '')
  return values?.length ? values : undefined
}

/** Client authentication (RFC 6749 §2.3.1); every refusal goes to the audit trail (never the secret). */
export async function authenticate (request: FastifyRequest, form: FormBody, clients: ClientCache): Promise<AuthenticatedClient> {
  const authorization = request.headers.authorization
  const body: ClientCredentials = { client_id: single(form, 'client_id'), client_secret: single(form, 'client_secret') }
  const assertion = single(form, 'client_assertion')
  const assertionType = single(form, 'client_assertion_type')
  // The secret methods' fast path never looks at assertions.
  let assertions
  if (assertion !== undefined || assertionType !== undefined) {
    body.client_assertion = assertion
    body.client_assertion_type = assertionType
    // RFC 7523 §3 item 3: the issuer or the token endpoint; the endpoint called is accepted too.
    const issuer = publicIssuer(request)
    assertions = { verifier: request.server.clientAssertions, audience: { issuer, endpoints: [...new Set([issuer + ENDPOINTS.token, issuer + request.routeOptions.url])] } }
  }
  try {
    return await authenticateClient(authorization, body, clients, assertions)
  } catch (err) {
    if (err instanceof InvalidClient) {
      const clientId = presentedClientId(authorization, body)?.slice(0, 200)
      const method = assertions ? 'private_key_jwt' : authorization !== undefined ? 'client_secret_basic' : body.client_secret !== undefined ? 'client_secret_post' : 'none'
      await request.server.audit.record({
        type: 'client_authentication_failed', clientId, ip: request.ip,
        detail: { method, endpoint: request.routeOptions.url, reason: err.description },
      })
    }
    throw err
  }
}
