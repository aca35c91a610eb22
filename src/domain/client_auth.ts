/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3.1).
 *
 * Client secrets are 256-bit random values, so a fast hash is the right storage: SHA-256 of such a
 * secret cannot be brute-forced, and verification stays cheap on the hot path. The comparison is
 * constant-time all the same.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { decodeJwt } from 'jose'
import { InvalidClient, InvalidRequest } from '../errors.js'
import type { ClientRecord, ClientStore } from '../storage/types.js'
import { JWT_BEARER_ASSERTION, PRIVATE_KEY_JWT, type AssertionAudience, type ClientAssertionVerifier } from './client_assertion.js'

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']

/**
 * A new client id: 96 random bits, base64url, never starting with `-` or `_`, so it can always be
 * passed to the CLI as a positional argument (`stamp client disable -0ab…` would parse as options).
 */
export function generateClientId (): string {
  for (;;) {
    const id = randomBytes(12).toString('base64url')
    if (/^[A-Za-z0-9]/.test(id)) return id
  }
}

export function generateClientSecret (): string {
  return randomBytes(32).toString('base64url')
}

export function hashClientSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

function secretMatches (secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashClientSecret(secret), 'hex')
  const stored = Buffer.from(storedHash, 'hex')
  return presented.length === stored.length && timingSafeEqual(presented, stored)
}

/** Caches client records briefly per instance: the hot path must not hit the database each time. */
const enabled = (client: ClientRecord | null): ClientRecord | null => client?.disabled === true ? null : client

export class ClientCache {
  readonly #store: ClientStore
  readonly #ttlMs: number
  readonly #entries = new Map<string, { client: ClientRecord, expires: number }>()
  static readonly MAX_ENTRIES = 10_000

  readonly #metadata: MetadataClients | undefined

  /** `metadata` resolves https client ids (client ID metadata documents); absent: turned off. */
  constructor (store: ClientStore, ttlSeconds: number, metadata?: MetadataClients) {
    this.#store = store
    this.#ttlMs = ttlSeconds * 1000
    this.#metadata = metadata
  }

  /** The client, or null when unknown, revoked or disabled (refused everywhere). Throws invalid_client when a metadata document is unusable. */
  async find (id: string): Promise<ClientRecord | null> {
    const now = Date.now()
    const hit = this.#entries.get(id)
    if (hit && hit.expires > now) return enabled(hit.client)
    let client: ClientRecord | null
    if (this.#metadata && id.startsWith('https://')) {
      client = await this.#metadata.resolve(id)
    } else {
      client = await this.#store.find(id)
      // Revoked, or a metadata document client while documents are turned off.
      if (client?.revokedAt || (client?.origin === 'cimd' && !this.#metadata)) client = null
    }
    if (client && this.#ttlMs > 0) {
      if (this.#entries.size >= ClientCache.MAX_ENTRIES) this.#entries.clear()
      this.#entries.set(id, { client, expires: now + this.#ttlMs })
    }
    return enabled(client)
  }

  forget (id: string): void {
    this.#entries.delete(id)
    this.#metadata?.forget(id)
  }
}

/** What ClientCache needs from the client ID metadata document resolver (domain/client_metadata.ts). */
export interface MetadataClients {
  resolve(id: string): Promise<ClientRecord | null>
  forget(id: string): void
}

export interface AuthenticatedClient { client: ClientRecord, method: ClientAuthMethod }

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="stamp", charset="UTF-8"' }

/**
 * RFC 6749 §2.3: authenticates with exactly one method. "The client MUST NOT use more than one
 * authentication method in each request." Public clients identify with `client_id` alone.
 */
export async function authenticateClient (
  authorization: string | undefined,
  body: ClientCredentials,
  clients: ClientCache,
  assertions?: { verifier: ClientAssertionVerifier, audience: AssertionAudience },
): Promise<AuthenticatedClient> {
  if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) {
    return authenticateWithAssertion(authorization, body, clients, assertions)
  }
  if (authorization !== undefined) {
    if (body.client_secret !== undefined) throw new InvalidRequest('use only one client authentication method')
    const credentials = parseBasic(authorization)
    if (!credentials) throw new InvalidClient('malformed Basic credentials', { headers: BASIC_CHALLENGE })
    if (body.client_id !== undefined && body.client_id !== credentials.id) throw new InvalidRequest('client_id does not match the authenticated client')
    const client = await clients.find(credentials.id)
    if (!client?.secretHash || !secretMatches(credentials.secret, client.secretHash)) {
      throw new InvalidClient('client authentication failed', { headers: BASIC_CHALLENGE })
    }
    return { client, method: 'client_secret_basic' }
  }
  if (body.client_id === undefined) throw new InvalidClient('client authentication required', { headers: BASIC_CHALLENGE })
  const client = await clients.find(body.client_id)
  if (body.client_secret !== undefined) {
    if (!client?.secretHash || !secretMatches(body.client_secret, client.secretHash)) throw new InvalidClient('client authentication failed')
    return { client, method: 'client_secret_post' }
  }
  if (!client?.public) throw new InvalidClient('client authentication failed')
  return { client, method: 'none' }
}

export interface ClientCredentials {
  client_id?: string
  client_secret?: string
  client_assertion?: string
  client_assertion_type?: string
}

/**
 * RFC 7523 §2.2 / OIDC Core §9 private_key_jwt. RFC 7521 §4.2: `client_id` is optional; when sent
 * it must name the assertion's subject. Only a client registered for private_key_jwt may use it.
 */
async function authenticateWithAssertion (
  authorization: string | undefined,
  body: ClientCredentials,
  clients: ClientCache,
  assertions: { verifier: ClientAssertionVerifier, audience: AssertionAudience } | undefined,
): Promise<AuthenticatedClient> {
  if (authorization !== undefined || body.client_secret !== undefined) throw new InvalidRequest('use only one client authentication method')
  if (body.client_assertion_type !== JWT_BEARER_ASSERTION) throw new InvalidClient(`client_assertion_type must be ${JWT_BEARER_ASSERTION}`)
  if (body.client_assertion === undefined) throw new InvalidClient('client_assertion is missing')
  const subject = assertionSubject(body.client_assertion)
  if (subject === undefined) throw new InvalidClient('the client assertion is malformed or names no sub')
  if (body.client_id !== undefined && body.client_id !== subject) throw new InvalidClient('client_id does not match the client assertion\'s sub')
  const client = await clients.find(subject)
  if (!client || client.tokenEndpointAuthMethod !== PRIVATE_KEY_JWT || !assertions) throw new InvalidClient('client authentication failed')
  await assertions.verifier.verify(body.client_assertion, client, assertions.audience)
  return { client, method: PRIVATE_KEY_JWT }
}

/** The unverified `sub` of an assertion (which client's keys to verify it with). */
function assertionSubject (assertion: string): string | undefined {
  try {
    const sub = decodeJwt(assertion).sub
    return typeof sub === 'string' && sub.length > 0 && sub.length <= 2048 ? sub : undefined
  } catch {
    return undefined
  }
}

/** The client id a request claims (Basic credentials first), for the audit trail of a failed authentication. */
export function presentedClientId (authorization: string | undefined, body: ClientCredentials): string | undefined {
  return (authorization !== undefined ? parseBasic(authorization)?.id : undefined) ?? body.client_id ??
    (body.client_assertion !== undefined ? assertionSubject(body.client_assertion) : undefined)
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined for Basic. */
export function parseBasic (header: string): { id: string, secret: string } | null {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim())
  if (!match) return null
  const decoded = Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 1) return null
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    }
  } catch {
    return null
  }
}
