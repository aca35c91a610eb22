/**
 * The relying-party side of a federated sign-in, on openid-client (a certified RP library): one
 * `Configuration` per provider, discovered (OpenID Connect Discovery 1.0 §4) or built from the
 * configured endpoints (plain OAuth 2), cached for `discoveryTTL` together with the upstream JWKS
 * openid-client keeps inside it.
 *
 * Every request to the upstream goes through the SSRF-hardened fetch (src/http/safe_fetch.ts):
 * checked and pinned addresses, no redirects, a timeout and a size limit for the whole exchange.
 *
 * @module
 */
import * as oidc from 'openid-client'
import { FetchRefused, safeFetch, type SafeFetchOptions } from '../../http/safe_fetch.js'
import type { IdentityProviderRecord } from '../../storage/types.js'

export interface UpstreamOptions {
  fetch: Pick<SafeFetchOptions, 'lookup' | 'ca' | 'allowLoopback' | 'allowPrivate' | 'timeoutMs' | 'maxBytes'>
  /** Seconds a configuration is reused. */
  ttl: number
  /** The opened client secret or private JWK of a provider. */
  credential: (provider: IdentityProviderRecord) => string | null
  now?: () => number
}

/** Why an upstream exchange failed, as the error page tells it. */
export type UpstreamFailure = 'timeout' | 'unreachable' | 'rejected' | 'invalid'

export class UpstreamError extends Error {
  override name = 'UpstreamError'
  readonly reason: UpstreamFailure
  constructor (reason: UpstreamFailure, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

/** Maps what openid-client or the fetch threw to a reason (the detail stays in the log). */
export function classify (err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err
  let cause: unknown = err
  for (let i = 0; i < 5 && cause; i++) {
    if (cause instanceof FetchRefused) {
      return new UpstreamError(cause.reason === 'timeout' ? 'timeout' : 'unreachable', cause.message, { cause: err })
    }
    cause = (cause as { cause?: unknown }).cause
  }
  if (err instanceof oidc.WWWAuthenticateChallengeError) return new UpstreamError('rejected', 'the provider refused the access token', { cause: err })
  if (err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError) {
    return new UpstreamError('rejected', `the provider answered ${err.error}${err.error_description ? ': ' + err.error_description : ''}`, { cause: err })
  }
  return new UpstreamError('invalid', (err as Error)?.message ?? 'invalid upstream response', { cause: err })
}

/** openid-client's fetch hook on top of safeFetch (GET discovery/JWKS/userinfo, POST token). */
export function upstreamFetch (options: UpstreamOptions['fetch']): oidc.CustomFetch {
  return async (url, init) => {
    const body = init.body === undefined || init.body === null ? undefined : init.body instanceof URLSearchParams ? init.body.toString() : String(init.body)
    const method = init.method === 'POST' ? 'POST' : 'GET'
    const res = await safeFetch(new URL(url), { ...options, method, body, headers: init.headers })
    const headers = new Headers()
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
    }
    return new Response(res.status === 204 || res.status === 304 ? null : new Uint8Array(res.body), { status: res.status, headers })
  }
}

export class UpstreamClients {
  readonly #o: UpstreamOptions
  readonly #now: () => number
  readonly #cache = new Map<string, { at: number, updatedAt: number, config: Promise<oidc.Configuration> }>()
  readonly #fetch: oidc.CustomFetch

  constructor (options: UpstreamOptions) {
    this.#o = options
    this.#now = options.now ?? Date.now
    this.#fetch = upstreamFetch(options.fetch)
  }

  /** Forget a provider's configuration (it changed, or discovery failed). */
  forget (id: string): void {
    this.#cache.delete(id)
  }

  async configuration (provider: IdentityProviderRecord): Promise<oidc.Configuration> {
    const hit = this.#cache.get(provider.id)
    if (hit && hit.updatedAt === provider.updatedAt.getTime() && this.#now() - hit.at < this.#o.ttl * 1000) return hit.config
    const config = this.#build(provider)
    this.#cache.set(provider.id, { at: this.#now(), updatedAt: provider.updatedAt.getTime(), config })
    // A failed discovery is not cached: the next sign-in tries again.
    config.catch(() => { if (this.#cache.get(provider.id)?.config === config) this.#cache.delete(provider.id) })
    return config
  }

  async #build (p: IdentityProviderRecord): Promise<oidc.Configuration> {
    const credential = this.#o.credential(p)
    const auth = clientAuth(p, credential)
    const metadata: Partial<oidc.ClientMetadata> = { token_endpoint_auth_method: p.authMethod }
    if (p.authMethod === 'client_secret_basic' || p.authMethod === 'client_secret_post') metadata.client_secret = credential ?? undefined
    const insecure = [p.issuer, p.authorizationEndpoint, p.tokenEndpoint, p.userinfoEndpoint].some((u) => u?.startsWith('http:'))
    let config: oidc.Configuration
    if (p.kind === 'oidc') {
      try {
        config = await oidc.discovery(new URL(p.issuer!), p.clientId, metadata, auth, {
          [oidc.customFetch]: this.#fetch,
          execute: insecure ? [oidc.allowInsecureRequests] : [],
          timeout: Math.ceil(this.#o.fetch.timeoutMs / 1000),
        })
      } catch (err) {
        throw classify(err)
      }
      const server = config.serverMetadata()
      // Configured endpoints override discovered ones (a provider behind a proxy).
      if (p.authorizationEndpoint || p.tokenEndpoint || p.userinfoEndpoint) {
        const { supportsPKCE: _s, ...discovered } = server
        config = new oidc.Configuration({
          ...(discovered as oidc.ServerMetadata),
          ...(p.authorizationEndpoint ? { authorization_endpoint: p.authorizationEndpoint } : {}),
          ...(p.tokenEndpoint ? { token_endpoint: p.tokenEndpoint } : {}),
          ...(p.userinfoEndpoint ? { userinfo_endpoint: p.userinfoEndpoint } : {}),
        }, p.clientId, metadata, auth)
      }
    } else {
      const issuer = p.issuer ?? new URL(p.authorizationEndpoint!).origin
      config = new oidc.Configuration({
        issuer, authorization_endpoint: p.authorizationEndpoint!, token_endpoint: p.tokenEndpoint!, userinfo_endpoint: p.userinfoEndpoint!,
      }, p.clientId, metadata, auth)
    }
    config[oidc.customFetch] = this.#fetch
    if (insecure) oidc.allowInsecureRequests(config)
    config.timeout = Math.ceil(this.#o.fetch.timeoutMs / 1000)
    return config
  }
}

function clientAuth (p: IdentityProviderRecord, credential: string | null): oidc.ClientAuth {
  switch (p.authMethod) {
    case 'client_secret_basic': return oidc.ClientSecretBasic(credential!)
    case 'client_secret_post': return oidc.ClientSecretPost(credential!)
    case 'private_key_jwt': {
      const jwk = JSON.parse(credential!) as import('node:crypto').JsonWebKey & { kid?: string, alg?: string }
      // openid-client wants a CryptoKey; importing lazily keeps the key material out of the cache key.
      return lazyPrivateKeyJwt(jwk)
    }
    default: return oidc.None()
  }
}

/** private_key_jwt (RFC 7523 §2.2) with the key imported on first use. */
function lazyPrivateKeyJwt (jwk: import('node:crypto').JsonWebKey & { kid?: string, alg?: string }): oidc.ClientAuth {
  let auth: Promise<oidc.ClientAuth> | undefined
  return async (...args) => {
    auth ??= (async () => {
      const alg = jwk.alg ?? 'RS256'
      const params = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : alg === 'EdDSA' ? { name: 'Ed25519' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      const { alg: _a, kid: _k, ...material } = jwk
      const key = await crypto.subtle.importKey('jwk', material, params, false, ['sign'])
      return oidc.PrivateKeyJwt({ key, kid: jwk.kid })
    })()
    return (await auth)(...args)
  }
}
