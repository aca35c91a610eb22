/**
 * The DPoP proof of a request (RFC 9449 §4.3), checked against the method and the public URL of
 * the endpoint it came to: behind a proxy that is the public issuer's URL (http/public_issuer.ts),
 * never the URL the proxy forwarded to.
 *
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { DPoPProof } from '../../domain/dpop.js'
import { publicIssuer } from '../../http/public_issuer.js'

/** The valid proof of this request to `path`, undefined when it has none; throws invalid_dpop_proof / use_dpop_nonce. */
export function dpopProof (request: FastifyRequest, path: string, accessToken?: string): Promise<DPoPProof | undefined> {
  return request.server.dpop.validate(request.headers.dpop, { method: request.method, url: publicIssuer(request) + path, accessToken })
}

/** §8.2: with nonces on, every response tells the client the nonce to use next. */
export function sendDPoPNonce (request: FastifyRequest, reply: FastifyReply): void {
  const nonce = request.server.dpop.currentNonce()
  if (nonce) reply.header('dpop-nonce', nonce)
}
