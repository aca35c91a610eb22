/**
 * The public issuer of a request: the one place that decides which origin Stamp puts in the URLs
 * it emits (discovery, token `iss`, the browser endpoints' redirects and forms, cookie `Secure`).
 *
 * - ISSUER set: always ISSUER. Forwarded headers never change an emitted URL. This is the
 *   production setting: verifiers pin the issuer, so it must not depend on a header.
 * - ISSUER unset and TRUST_PROXY on: `<X-Forwarded-Proto>://<X-Forwarded-Host>` for requests
 *   that came through a trusted proxy (Fastify reads those headers only from a trusted peer).
 *   For a proxy whose public name is not known in advance; the proxy must only pass its own
 *   server name (deploy/nginx refuses other hosts).
 * - Otherwise (no ISSUER and no trusted proxy on this request): the default
 *   `http://localhost:PORT`; forwarded headers and Host are ignored.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import type { Config } from '../config/env.js'
import type { SingleSignOn } from '../domain/sso.js'
import type { TokenMinter } from '../domain/tokens.js'
import type { GrantServices } from '../grants/types.js'

/** host or host:port, or a bracketed IPv6 literal; anything else falls back to the configured issuer. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/** What the issuer depends on, from a request. */
export interface IssuerSource {
  /** `request.protocol`: X-Forwarded-Proto when the peer is trusted, else the socket's. */
  protocol: string
  /** `request.host`: X-Forwarded-Host when the peer is trusted, else Host. */
  host: string
  /** The request came through a trusted proxy (it set X-Forwarded-For and the peer is trusted). */
  viaTrustedProxy: boolean
}

/** Pure form of {@link publicIssuer}, for tests and non-Fastify callers. */
export function issuerFrom (config: Pick<Config, 'issuer' | 'issuerFromProxy'>, source: IssuerSource): string {
  // Never from a Host header alone: a client talking to Stamp directly could name any host.
  if (!config.issuerFromProxy || !source.viaTrustedProxy) return config.issuer
  const protocol = source.protocol === 'https' ? 'https' : 'http'
  const host = source.host.toLowerCase()
  return HOST.test(host) ? `${protocol}://${host}` : config.issuer
}

export function publicIssuer (request: FastifyRequest): string {
  const config = request.server.config
  if (!config.issuerFromProxy) return config.issuer
  // With trustProxy on, `ips` is the socket address followed by every trusted X-Forwarded-For
  // hop; more than one entry means the direct peer is a trusted proxy.
  return issuerFrom(config, { protocol: request.protocol, host: request.host, viaTrustedProxy: (request.ips?.length ?? 0) > 1 })
}

/** Whether cookies set on this request should carry `Secure`: the public origin is https. */
export function isSecureOrigin (request: FastifyRequest): boolean {
  return publicIssuer(request).startsWith('https://')
}

/** The token minter for this request's issuer (the shared one when the issuer is fixed). */
export function minterFor (request: FastifyRequest): TokenMinter {
  const issuer = publicIssuer(request)
  return issuer === request.server.config.issuer ? request.server.minter : request.server.minter.withIssuer(issuer)
}

/** The grant services for this request's issuer. */
export function grantServicesFor (request: FastifyRequest): GrantServices {
  const services = request.server.grantServices
  const issuer = publicIssuer(request)
  return issuer === services.issuer ? services : { ...services, issuer, minter: services.minter.withIssuer(issuer) }
}

/** The SSO service for this request's issuer (its back-channel logout tokens carry that `iss`). */
export function ssoFor (request: FastifyRequest): SingleSignOn {
  return request.server.sso.withIssuer(publicIssuer(request))
}
