/**
 * Upstream identity providers as administrators manage them (admin API and `stamp idp`, the same
 * service): validation, the credential sealed with the KEK (bound to the provider id as AAD, like
 * signing keys, so a sealed value cannot be moved onto another row), audit events, and the public
 * view, which never carries the secret or private key.
 *
 * @module
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto'
import type { JWK } from 'jose'
import { open, seal, type KEK } from '../../crypto/kek.js'
import type { AuditLog } from '../audit.js'
import { providerCredentialAAD } from '../sealed_values.js'
import type {
  ClaimMapping, FederationStore, IdentityProviderKind, IdentityProviderPatch, IdentityProviderRecord, NewIdentityProvider, UpstreamAuthMethod,
} from '../../storage/types.js'
import { mappingProblem } from './claims.js'

export const DEFAULT_SCOPE = 'openid email profile'
const AUTH_METHODS: readonly UpstreamAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']

export class ProviderError extends Error {
  override name = 'ProviderError'
  readonly status: 400 | 404 | 409
  constructor (message: string, status: 400 | 404 | 409 = 400) {
    super(message)
    this.status = status
  }
}

/** What an administrator gives; absent fields keep their value on update. */
export interface ProviderInput {
  slug?: string
  displayName?: string
  kind?: IdentityProviderKind
  issuer?: string | null
  clientId?: string
  /** A client secret (client_secret_basic/_post). */
  clientSecret?: string
  /** A private key, PEM (PKCS#8) or a JWK as JSON (private_key_jwt). */
  privateKey?: string
  authMethod?: UpstreamAuthMethod
  scope?: string
  authorizationEndpoint?: string | null
  tokenEndpoint?: string | null
  userinfoEndpoint?: string | null
  /** oauth2: a GitHub-style address list asked when userinfo has no email (`GET /user/emails`). */
  emailsEndpoint?: string | null
  claimMapping?: ClaimMapping
  jit?: boolean
  domains?: string[]
  enabled?: boolean
  upstreamLogout?: boolean
}

/** The view the admin API and the CLI show: no credential, only whether one is set. */
export interface ProviderView {
  id: string
  slug: string
  display_name: string
  kind: IdentityProviderKind
  issuer: string | null
  client_id: string
  auth_method: UpstreamAuthMethod
  credential_set: boolean
  /** private_key_jwt: the public half, to register at the upstream. */
  public_jwk: JWK | null
  scope: string
  authorization_endpoint: string | null
  token_endpoint: string | null
  userinfo_endpoint: string | null
  emails_endpoint: string | null
  claim_mapping: ClaimMapping
  jit: boolean
  domains: string[]
  enabled: boolean
  upstream_logout: boolean
  /** The redirect URI to register at the upstream. */
  redirect_uri: string
  created_at: string
  updated_at: string
}

export interface IdentityProvidersOptions {
  store: FederationStore
  kek: KEK
  audit: AuditLog
  /** Stamp's issuer: the callback URL shown to administrators. */
  issuer: string
  /** http and loopback URLs are accepted (FEDERATION_ALLOW_LOOPBACK). */
  allowInsecure: boolean
  /** Called after every change (the upstream configuration cache forgets the provider). */
  onChange?: (id: string) => void
}

export const CALLBACK_PATH = '/federation/callback'
export const LOGOUT_DONE_PATH = '/federation/logout/done'

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/

export class IdentityProviders {
  readonly #o: IdentityProvidersOptions

  constructor (options: IdentityProvidersOptions) {
    this.#o = options
  }

  list (): Promise<IdentityProviderRecord[]> {
    return this.#o.store.listProviders()
  }

  async enabled (): Promise<IdentityProviderRecord[]> {
    return (await this.#o.store.listProviders()).filter((p) => p.enabled)
  }

  find (idOrSlug: string): Promise<IdentityProviderRecord | null> {
    return this.#o.store.findProvider(idOrSlug)
  }

  /** The enabled provider whose domains include `email`'s domain (home-realm discovery). */
  async forEmail (email: string | undefined): Promise<IdentityProviderRecord | undefined> {
    const domain = email && /^[^@\s]+@([^@\s]+)$/.exec(email.trim())?.[1]?.toLowerCase()
    if (!domain) return undefined
    return (await this.enabled()).find((p) => p.domains.includes(domain))
  }

  /** The client secret or private JWK, opened. */
  credential (provider: IdentityProviderRecord): string | null {
    return provider.credentialEnc ? open(this.#o.kek, provider.credentialEnc, aad(provider.id)) : null
  }

  async create (input: ProviderInput, actor: { actor: string, ip?: string }): Promise<IdentityProviderRecord> {
    if (!input.slug || !SLUG.test(input.slug)) throw new ProviderError('name must be 1-63 lower-case letters, digits or hyphens, starting with a letter or digit')
    if (!input.clientId) throw new ProviderError('client id is required')
    const id = randomUUID()
    const kind = input.kind ?? (input.issuer ? 'oidc' : 'oauth2')
    const authMethod = input.authMethod ?? (input.privateKey ? 'private_key_jwt' : input.clientSecret ? 'client_secret_basic' : 'none')
    const record: NewIdentityProvider & { id: string } = {
      id,
      slug: input.slug,
      displayName: input.displayName?.trim() || input.slug,
      kind,
      issuer: input.issuer ?? null,
      clientId: input.clientId,
      authMethod,
      credentialEnc: null,
      kekId: null,
      scope: input.scope ?? (kind === 'oidc' ? DEFAULT_SCOPE : ''),
      authorizationEndpoint: input.authorizationEndpoint ?? null,
      tokenEndpoint: input.tokenEndpoint ?? null,
      userinfoEndpoint: input.userinfoEndpoint ?? null,
      emailsEndpoint: input.emailsEndpoint ?? null,
      claimMapping: input.claimMapping ?? {},
      jit: input.jit ?? false,
      domains: normalizeDomains(input.domains ?? []),
      enabled: input.enabled ?? true,
      upstreamLogout: input.upstreamLogout ?? false,
    }
    Object.assign(record, this.#credential(id, authMethod, input, null))
    this.#validate(record)
    const created = await this.#o.store.createProvider(record as NewIdentityProvider)
    if (!created) throw new ProviderError(`an identity provider named ${input.slug} already exists`, 409)
    await this.#o.audit.record({ type: 'identity_provider_created', actor: actor.actor, subject: created.id, ip: actor.ip, detail: { slug: created.slug, kind, issuer: created.issuer, jit: created.jit, domains: created.domains } })
    this.#o.onChange?.(created.id)
    return created
  }

  async update (idOrSlug: string, input: ProviderInput, actor: { actor: string, ip?: string }): Promise<IdentityProviderRecord> {
    const current = await this.find(idOrSlug)
    if (!current) throw new ProviderError('no such identity provider', 404)
    if (input.slug !== undefined && input.slug !== current.slug) throw new ProviderError('the name of a provider cannot change')
    const patch: IdentityProviderPatch = {}
    const set = <K extends keyof IdentityProviderPatch>(key: K, value: IdentityProviderPatch[K] | undefined) => { if (value !== undefined) patch[key] = value }
    set('displayName', input.displayName?.trim() || undefined)
    set('kind', input.kind)
    set('issuer', input.issuer)
    set('clientId', input.clientId)
    set('scope', input.scope)
    set('authorizationEndpoint', input.authorizationEndpoint)
    set('tokenEndpoint', input.tokenEndpoint)
    set('userinfoEndpoint', input.userinfoEndpoint)
    set('emailsEndpoint', input.emailsEndpoint)
    set('claimMapping', input.claimMapping)
    set('jit', input.jit)
    set('domains', input.domains && normalizeDomains(input.domains))
    set('enabled', input.enabled)
    set('upstreamLogout', input.upstreamLogout)
    const authMethod = input.authMethod ?? (input.privateKey ? 'private_key_jwt' : input.clientSecret && current.authMethod === 'private_key_jwt' ? 'client_secret_basic' : current.authMethod)
    if (authMethod !== current.authMethod || input.clientSecret !== undefined || input.privateKey !== undefined) {
      Object.assign(patch, { authMethod }, this.#credential(current.id, authMethod, input, current))
    }
    this.#validate({ ...current, ...patch })
    const updated = await this.#o.store.updateProvider(current.id, patch)
    if (!updated) throw new ProviderError('no such identity provider', 404)
    const fields = Object.entries(input).filter(([k, v]) => v !== undefined && k !== 'clientSecret' && k !== 'privateKey').map(([k]) => k)
    if (input.clientSecret !== undefined || input.privateKey !== undefined) fields.push('credential')
    await this.#o.audit.record({ type: 'identity_provider_updated', actor: actor.actor, subject: updated.id, ip: actor.ip, detail: { slug: updated.slug, fields, enabled: updated.enabled } })
    this.#o.onChange?.(updated.id)
    return updated
  }

  async delete (idOrSlug: string, actor: { actor: string, ip?: string }): Promise<{ provider: IdentityProviderRecord, links: number }> {
    const current = await this.find(idOrSlug)
    if (!current) throw new ProviderError('no such identity provider', 404)
    const deleted = await this.#o.store.deleteProvider(current.id)
    if (!deleted) throw new ProviderError('no such identity provider', 404)
    await this.#o.audit.record({ type: 'identity_provider_deleted', actor: actor.actor, subject: current.id, ip: actor.ip, detail: { slug: current.slug, links_removed: deleted.links } })
    this.#o.onChange?.(current.id)
    return { provider: current, links: deleted.links }
  }

  view (p: IdentityProviderRecord): ProviderView {
    return {
      id: p.id,
      slug: p.slug,
      display_name: p.displayName,
      kind: p.kind,
      issuer: p.issuer,
      client_id: p.clientId,
      auth_method: p.authMethod,
      credential_set: p.credentialEnc !== null,
      public_jwk: p.authMethod === 'private_key_jwt' && p.credentialEnc ? publicJWK(this.credential(p)!) : null,
      scope: p.scope,
      authorization_endpoint: p.authorizationEndpoint,
      token_endpoint: p.tokenEndpoint,
      userinfo_endpoint: p.userinfoEndpoint,
      emails_endpoint: p.emailsEndpoint,
      claim_mapping: p.claimMapping,
      jit: p.jit,
      domains: p.domains,
      enabled: p.enabled,
      upstream_logout: p.upstreamLogout,
      redirect_uri: this.#o.issuer + CALLBACK_PATH,
      created_at: p.createdAt.toISOString(),
      updated_at: p.updatedAt.toISOString(),
    }
  }

  /** The sealed credential for `authMethod` from the input (or the current one kept). */
  #credential (id: string, authMethod: UpstreamAuthMethod, input: ProviderInput, current: IdentityProviderRecord | null): Pick<IdentityProviderRecord, 'credentialEnc' | 'kekId'> {
    if (!AUTH_METHODS.includes(authMethod)) throw new ProviderError(`auth method must be one of ${AUTH_METHODS.join(', ')}`)
    if (authMethod === 'none') return { credentialEnc: null, kekId: null }
    let plain: string | undefined
    if (authMethod === 'private_key_jwt') {
      if (input.clientSecret !== undefined) throw new ProviderError('private_key_jwt takes a private key, not a client secret')
      if (input.privateKey !== undefined) plain = JSON.stringify(privateJWK(input.privateKey))
    } else {
      if (input.privateKey !== undefined) throw new ProviderError(`${authMethod} takes a client secret, not a private key`)
      if (input.clientSecret !== undefined) {
        if (!input.clientSecret || input.clientSecret.length > 4096 || /[\r\n]/.test(input.clientSecret)) throw new ProviderError('the client secret must be one line of at most 4096 characters')
        plain = input.clientSecret
      }
    }
    if (plain === undefined) {
      if (current && current.authMethod === authMethod && current.credentialEnc) return { credentialEnc: current.credentialEnc, kekId: current.kekId }
      throw new ProviderError(authMethod === 'private_key_jwt' ? 'private_key_jwt needs a private key' : `${authMethod} needs a client secret`)
    }
    return { credentialEnc: seal(this.#o.kek, plain, aad(id)), kekId: this.#o.kek.id }
  }

  #validate (p: Omit<NewIdentityProvider, 'slug'> & { slug?: string }): void {
    if (p.kind !== 'oidc' && p.kind !== 'oauth2') throw new ProviderError('kind must be oidc or oauth2')
    if (!p.clientId || p.clientId.length > 512 || /[\s\x00-\x1f]/.test(p.clientId)) throw new ProviderError('client id must be 1-512 characters without spaces')
    if (!p.displayName || p.displayName.length > 64) throw new ProviderError('display name must be 1-64 characters')
    if (p.scope.length > 1024 || (p.scope && !/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(p.scope))) throw new ProviderError('scope must be space-separated scope tokens')
    const problem = mappingProblem(p.claimMapping as Record<string, unknown>)
    if (problem) throw new ProviderError(problem)
    const url = (name: string, value: string | null, required: boolean) => {
      if (value === null) { if (required) throw new ProviderError(`${name} is required`); return }
      if (!URL.canParse(value)) throw new ProviderError(`${name} must be an absolute URL`)
      const u = new URL(value)
      if (u.protocol !== 'https:' && !(this.#o.allowInsecure && u.protocol === 'http:')) throw new ProviderError(`${name} must be an https URL`)
      if (u.hash || u.username || u.password) throw new ProviderError(`${name} must not carry a fragment or credentials`)
    }
    if (p.kind === 'oidc') {
      url('issuer', p.issuer, true)
      if (!p.scope.split(' ').includes('openid')) throw new ProviderError('an OpenID Connect provider\'s scope must include openid')
    } else {
      url('issuer', p.issuer, false)
      url('authorization endpoint', p.authorizationEndpoint, true)
      url('token endpoint', p.tokenEndpoint, true)
      url('userinfo endpoint', p.userinfoEndpoint, true)
      url('emails endpoint', p.emailsEndpoint, false)
    }
    if (p.kind === 'oidc' && p.emailsEndpoint !== null) throw new ProviderError('an emails endpoint is for plain OAuth 2 providers (OpenID Connect has the email claims)')
    for (const [name, value] of [['authorization endpoint', p.authorizationEndpoint], ['token endpoint', p.tokenEndpoint], ['userinfo endpoint', p.userinfoEndpoint]] as const) {
      if (p.kind === 'oidc') url(name, value, false)
    }
    if (p.domains.length > 50) throw new ProviderError('at most 50 domains')
    for (const d of p.domains) if (!DOMAIN.test(d)) throw new ProviderError(`"${d}" is not a domain name`)
    if (p.upstreamLogout && p.kind !== 'oidc') throw new ProviderError('upstream logout needs an OpenID Connect provider (end_session_endpoint)')
  }
}

const aad = providerCredentialAAD

function normalizeDomains (domains: string[]): string[] {
  return [...new Set(domains.map((d) => d.trim().toLowerCase().replace(/^@/, '')).filter(Boolean))]
}

/** A private key (PEM PKCS#8/SEC1/PKCS#1, or a JWK) as a private JWK with `kid` (RFC 7638 thumbprint) and `alg`. */
function privateJWK (value: string): JWK {
  let key
  try {
    const trimmed = value.trim()
    key = trimmed.startsWith('{') ? createPrivateKey({ key: JSON.parse(trimmed), format: 'jwk' }) : createPrivateKey(trimmed)
  } catch {
    throw new ProviderError('the private key could not be read (PEM or a JWK with its private members)')
  }
  const jwk = key.export({ format: 'jwk' }) as JWK
  const alg = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : undefined
  if (!alg) throw new ProviderError('the private key must be RSA, EC P-256 or Ed25519')
  if (jwk.kty === 'RSA' && Buffer.from(jwk.n!, 'base64url').length < 256) throw new ProviderError('an RSA key must have at least 2048 bits')
  const pub = publicJWK(JSON.stringify(jwk))
  return { ...jwk, alg, kid: pub.kid }
}

/** The public members only (never `d`, `p`, `q`…), with a thumbprint `kid`. */
export function publicJWK (privateJson: string): JWK {
  const priv = JSON.parse(privateJson) as JWK
  const pub = createPublicKey({ key: priv as never, format: 'jwk' }).export({ format: 'jwk' }) as JWK
  const out: JWK = { ...pub, alg: priv.alg, use: 'sig' }
  out.kid = priv.kid ?? thumbprint(pub)
  return out
}

/** RFC 7638 §3.2 thumbprint: the required members in lexicographic order, no whitespace. */
function thumbprint (jwk: JWK): string {
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}
