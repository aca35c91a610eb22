/**
 * The console's only way to its data: the admin API, called with openapi-fetch and typed by
 * ./schema.d.ts (generated from the API's OpenAPI document; `npm run console:api`). Every call
 * carries the in-memory access token; a 401 is retried once after a refresh, then the user signs
 * in again.
 *
 * @module
 */
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths, components } from './schema.js'
import { currentAccessToken, renew, signIn } from '../auth.js'

export type { paths, components }

const auth: Middleware = {
  async onRequest ({ request }) {
    const token = await currentAccessToken()
    if (token) request.headers.set('authorization', `Bearer ${token}`)
    return request
  },
}

export const api = createClient<paths>({ baseUrl: location.origin })
api.use(auth)

/** What an admin API error says (RFC 6749 §5.2), as one sentence for an alert. */
export class APIError extends Error {
  override name = 'APIError'
  constructor (readonly status: number, readonly code: string, description: string) {
    super(description)
  }
}

/**
 * Unwraps an openapi-fetch result: the data, or an APIError. `call` is re-run once after a
 * refresh when the token was refused (a revoked signing key, an expired token).
 */
export async function unwrap<T> (call: () => Promise<{ data?: T, error?: unknown, response: Response }>): Promise<T> {
  let result = await call()
  if (result.response.status === 401 && await renew()) result = await call()
  if (result.response.status === 401) await signIn(location.pathname + location.search)
  if (result.error !== undefined || !result.response.ok) {
    const body = (result.error ?? {}) as { error?: string, error_description?: string }
    throw new APIError(result.response.status, body.error ?? 'error', body.error_description ?? `request failed (HTTP ${result.response.status})`)
  }
  return result.data as T
}

/** The JSON body of an operation's success response (200 or 201), straight from the OpenAPI types. */
export type Ok<P extends keyof paths, M extends keyof paths[P]> =
  paths[P][M] extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T
    : paths[P][M] extends { responses: { 201: { content: { 'application/json': infer T } } } } ? T : never
