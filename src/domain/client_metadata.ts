/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the MCP
 * authorization specification uses them): a `client_id` that is an https URL names a JSON document
 * at that URL describing the client. Stamp fetches it (through an SSRF-hardened fetcher it is
 * given), checks it, and treats the client as a public, third-party client:
 *
 * - §3: the client_id URL "MUST" use https, have a path, and no fragment, credentials or dot segments.
 * - §4.1: "the client_id property in the metadata document MUST match the client_id URL exactly".
 * - Redirect URIs come only from the document; authentication is `none` (shared secrets are
 *   meaningless for a document anyone can read).
 * - Never first-party, never the password grant or `stamp:` scopes; consent is always asked.
 * - Cached per the response's Cache-Control (max-age, no-store) between a floor and a ceiling.
 *
 * Each client also gets a row (origin `cimd`) on first use, so operators can list, revoke and
 * purge it like any other client; a revoked row refuses the client even while its document is up.
 *
 * @module
 */
import { InvalidClient } from '../errors.js'
import type { Policy } from '../config/defaults.js'
import type { ClientRecord, ClientStore } from '../storage/types.js'
import { redirectURIProblem, thirdPartyScopes } from './registration_policy.js'

/** A failure to use a client's metadata document; the message is safe to show to the user. */
export class ClientMetadataError extends InvalidClient {
  constructor (description: string) {
    super(description)
    this.name = 'ClientMetadataError'
  }
}

/** The fetcher's answer (see http/safe_fetch.ts); it throws with a user-safe message on refusal. */
export interface FetchedDocument {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}
export type DocumentFetcher = (url: URL) => Promise<FetchedDocument>

/** Cheap test for the hot path: only https client ids are metadata document URLs. */
export function isClientIdURL (clientId: string): boolean {
  return clientId.startsWith('https://')
}

/** §3 rules for a client_id URL; the parsed URL. */
export function parseClientIdURL (clientId: string): URL {
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    throw new ClientMetadataError('the client_id is not a valid URL')
  }
  if (url.protocol !== 'https:') throw new ClientMetadataError('a client_id URL must use https')
  if (url.username || url.password) throw new ClientMetadataError('a client_id URL must not contain credentials')
  if (clientId.includes('#')) throw new ClientMetadataError('a client_id URL must not contain a fragment')
  const path = clientId.slice(clientId.indexOf('//') + 2).replace(/^[^/?#]*/, '').replace(/[?#].*$/, '')
  if (path === '' || path === '/') throw new ClientMetadataError('a client_id URL must have a path')
  if (path.split('/').some((segment) => segment === '.' || segment === '..' || /^%2e%2e?$|^\.%2e$|^%2e\.$/i.test(segment))) {
    throw new ClientMetadataError('a client_id URL must not contain dot segments')
  }
  if (url.href !== clientId) throw new ClientMetadataError('a client_id URL must be in normalized form')
  return url
}

/** Seconds to cache a response: its max-age (or the default) between the floor and the ceiling. */
export function cacheSeconds (cacheControl: string | undefined, policy: Policy['clientMetadata']): number {
  const directives = (cacheControl ?? '').toLowerCase().split(',').map((d) => d.trim())
  // no-store still gets the floor: otherwise every authorization request could trigger a fetch.
  if (directives.includes('no-store') || directives.includes('no-cache')) return policy.cacheFloor
  const maxAge = directives.map((d) => /^max-age=(\d+)$/.exec(d)).find(Boolean)
  const seconds = maxAge ? Number(maxAge[1]) : policy.cacheDefault
  return Math.min(policy.cacheCeiling, Math.max(policy.cacheFloor, seconds))
}

const string = (v: unknown): v is string => typeof v === 'string'
const stringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(string)

/** Checks a document against its URL and the policy; the client it describes (not yet stored). */
export function clientFromDocument (clientId: string, document: unknown, policy: Policy): ClientRecord {
  if (!document || typeof document !== 'object' || Array.isArray(document)) throw new ClientMetadataError('the client metadata document is not a JSON object')
  const doc = document as Record<string, unknown>
  if (doc.client_id !== clientId) throw new ClientMetadataError('the client_id in the metadata document does not match its URL')
  const method = doc.token_endpoint_auth_method ?? 'none'
  if (method !== 'none') throw new ClientMetadataError(`token_endpoint_auth_method ${String(method)} is not supported for metadata document clients; use none`)
  if ('client_secret' in doc || 'client_secret_expires_at' in doc) throw new ClientMetadataError('a client metadata document must not contain a client secret')

  if (!stringArray(doc.redirect_uris) || doc.redirect_uris.length === 0) throw new ClientMetadataError('the client metadata document must list redirect_uris')
  if (doc.redirect_uris.length > policy.registration.maxRedirectUris) throw new ClientMetadataError(`the client metadata document lists more than ${policy.registration.maxRedirectUris} redirect_uris`)
  for (const uri of doc.redirect_uris) {
    const problem = redirectURIProblem(uri, policy.registration)
    if (problem) throw new ClientMetadataError(`redirect URI ${uri.slice(0, 200)} is refused: ${problem}`)
  }

  const grants = doc.grant_types === undefined ? ['authorization_code'] : doc.grant_types
  if (!stringArray(grants)) throw new ClientMetadataError('grant_types must be an array of strings')
  const refusedGrant = grants.find((g) => g !== 'authorization_code' && g !== 'refresh_token')
  if (refusedGrant) throw new ClientMetadataError(`grant type ${refusedGrant.slice(0, 100)} is not available to metadata document clients`)
  if (doc.response_types !== undefined && !(stringArray(doc.response_types) && doc.response_types.every((r) => r === 'code'))) {
    throw new ClientMetadataError('response_types may only contain code')
  }
  if (doc.scope !== undefined && !string(doc.scope)) throw new ClientMetadataError('scope must be a string')
  if (doc.client_name !== undefined && !string(doc.client_name)) throw new ClientMetadataError('client_name must be a string')

  const url = new URL(clientId)
  const name = string(doc.client_name) && doc.client_name.trim() ? doc.client_name.trim().slice(0, 100) : url.host
  const extras: Record<string, unknown> = { token_endpoint_auth_method: 'none' }
  for (const field of ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'software_id', 'software_version']) {
    if (string(doc[field]) && (doc[field] as string).length <= 500) extras[field] = doc[field]
  }
  return {
    id: clientId,
    name,
    secretHash: null,
    public: true,
    firstParty: false,
    // The code flow always comes with refresh (offline_access still decides whether one is issued).
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [...new Set(doc.redirect_uris)],
    postLogoutRedirectUris: [],
    backchannelLogoutUri: null,
    scopes: thirdPartyScopes(doc.scope as string | undefined, policy.registration),
    audiences: [...policy.registration.audiences],
    requirePkce: true,
    origin: 'cimd',
    metadata: extras,
  }
}

type CacheEntry = { client: ClientRecord, expires: number } | { error: ClientMetadataError, expires: number }

export interface ClientMetadataResolverOptions {
  fetch: DocumentFetcher
  policy: Policy
  store: ClientStore
  /** Told once per new client (its row was created). */
  onRegistered?: (client: ClientRecord) => void
  now?: () => number
}

/** Resolves metadata document clients: the document (cached), synced with the client's row. */
export class ClientMetadataResolver {
  readonly #o: ClientMetadataResolverOptions
  readonly #documents = new Map<string, CacheEntry>()
  readonly #inFlight = new Map<string, Promise<ClientRecord>>()
  static readonly MAX_ENTRIES = 10_000

  constructor (options: ClientMetadataResolverOptions) {
    this.#o = options
  }

  #now (): number { return this.#o.now?.() ?? Date.now() }

  /** The client named by `clientId`; throws {@link ClientMetadataError}. */
  async resolve (clientId: string): Promise<ClientRecord | null> {
    const row = await this.#o.store.find(clientId)
    // A client an operator registered under this id is theirs, not the document's: no fetch.
    if (row && row.origin !== 'cimd') return row.revokedAt ? null : row
    // Blocked before any fetch: a revoked client costs no traffic.
    if (row?.revokedAt) throw new ClientMetadataError('this application has been blocked by the server operator')
    const described = await this.#document(clientId)
    if (!row) {
      try {
        await this.#o.store.create(described)
        this.#o.onRegistered?.(described)
      } catch (err) {
        // A concurrent first use created it; anything else is a real failure.
        if (!await this.#o.store.find(clientId)) throw err
      }
      return { ...described, lastUsedAt: null, revokedAt: null }
    }
    if (changed(row, described)) {
      await this.#o.store.update(clientId, {
        name: described.name, redirectUris: described.redirectUris, scopes: described.scopes, audiences: described.audiences, metadata: described.metadata,
      })
    }
    return { ...described, lastUsedAt: row.lastUsedAt ?? null, revokedAt: null, createdAt: row.createdAt }
  }

  /** Drops the cached document (an operator action, or a test). */
  forget (clientId: string): void {
    this.#documents.delete(clientId)
  }

  async #document (clientId: string): Promise<ClientRecord> {
    const now = this.#now()
    const hit = this.#documents.get(clientId)
    if (hit && hit.expires > now) {
      if ('error' in hit) throw hit.error
      return hit.client
    }
    let pending = this.#inFlight.get(clientId)
    if (!pending) {
      // Not cached as a failure: the document is fine, this instance is just busy.
      if (this.#inFlight.size >= this.#o.policy.clientMetadata.maxConcurrentFetches) throw new ClientMetadataError('too many client metadata documents are being fetched right now; try again shortly')
      pending = this.#fetch(clientId).finally(() => this.#inFlight.delete(clientId))
      this.#inFlight.set(clientId, pending)
    }
    return pending
  }

  async #fetch (clientId: string): Promise<ClientRecord> {
    const policy = this.#o.policy.clientMetadata
    try {
      const url = parseClientIdURL(clientId)
      let response: FetchedDocument
      try {
        response = await this.#o.fetch(url)
      } catch (err) {
        throw new ClientMetadataError(`the client metadata document could not be fetched: ${(err as Error).message}`)
      }
      if (response.status !== 200) throw new ClientMetadataError(`the client metadata document could not be fetched (HTTP ${response.status})`)
      let json: unknown
      try {
        json = JSON.parse(response.body.toString('utf8'))
      } catch {
        throw new ClientMetadataError('the client metadata document is not valid JSON')
      }
      const client = clientFromDocument(clientId, json, this.#o.policy)
      const cacheControl = response.headers['cache-control']
      this.#store(clientId, { client, expires: this.#now() + cacheSeconds(Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl, policy) * 1000 })
      return client
    } catch (err) {
      if (err instanceof ClientMetadataError) this.#store(clientId, { error: err, expires: this.#now() + policy.failureCacheSeconds * 1000 })
      throw err
    }
  }

  #store (clientId: string, entry: CacheEntry): void {
    if (this.#documents.size >= ClientMetadataResolver.MAX_ENTRIES) this.#documents.clear()
    this.#documents.set(clientId, entry)
  }
}

function changed (row: ClientRecord, described: ClientRecord): boolean {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i])
  return row.name !== described.name || !same(row.redirectUris, described.redirectUris) || !same(row.scopes, described.scopes) ||
    !same(row.audiences, described.audiences) || canonical(row.metadata) !== canonical(described.metadata)
}

/** JSONB does not keep key order: compare metadata with sorted keys. */
function canonical (metadata: Record<string, unknown> | null | undefined): string {
  return JSON.stringify(Object.entries(metadata ?? {}).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}
