/**
 * The public issuer of a request: the one place that decides which origin Stamp puts in the URLs
 * it emits (discovery, `iss`, later redirects and cookie `Secure`).
 *
 * - ISSUER set: always ISSUER. Forwarded headers never change an emitted URL. This is the
 *   production setting: verifiers pin the issuer, so it must not depend on a header.
 * - ISSUER unset and TRUST_PROXY on: `<X-Forwarded-Proto>://<X-Forwarded-Host>` of the trusted
 *   proxy (Fastify resolves `request.protocol`/`request.host` from those headers only when the
 *   peer is trusted). For a proxy whose public name is not known in advance.
 * - Otherwise: the configured default, `http://localhost:PORT`; forwarded headers are ignored.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import type { Config } from '../config/env.js'
import type { TokenMinter } from '../domain/tokens.js'
import type { GrantServices } from '../grants/types.js'

/** host or host:port, or a bracketed IPv6 literal; anything else falls back to the configured issuer. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/** Pure form of {@link publicIssuer}, for tests and non-Fastify callers. */
export function issuerFrom (config: Pick<Config, 'issuer' | 'issuerFromProxy'>, request: { protocol: string, host: string }): string {
  if (!config.issuerFromProxy) return config.issuer
  const protocol = request.protocol === 'https' ? 'https' : 'http'
  const host = request.host.toLowerCase()
  return HOST.test(host) ? `${protocol}://${host}` : config.issuer
}

export function publicIssuer (request: FastifyRequest): string {
  return issuerFrom(request.server.config, request)
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
