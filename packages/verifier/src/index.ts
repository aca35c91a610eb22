/**
 * `stamp-verifier`: verify Stamp access tokens in a resource server, offline, with a JWKS cache
 * that follows Stamp's key rotation without refetching.
 *
 * Depends only on `jose` and `node:` built-ins; `stamp-verifier/fastify` wraps it as a Fastify plugin,
 * `stamp-verifier/http` as a helper for `node:http` and Express.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'stamp-verifier'
 *
 * const verifier = createVerifier({ issuer: 'https://stamp.example', audience: 'https://orders.example' })
 * const claims = await verifier.verify(token) // throws StampVerifierError subclasses
 * ```
 * @module
 */
export { createVerifier, assertScopes, scopesOf, assertAuthentication } from './verifier.js'
export type { AccessTokenClaims, AuthenticationRequirement, RequestCredentials, Verifier, VerifierOptions } from './verifier.js'
export { createDPoPNonces, createHtuMatcher, DPoPReplayCache, DPOP_DEFAULT_ALGORITHMS, jwkThumbprint, normalizeHtu } from './dpop.js'
export type { DPoPChecker, DPoPNonceSource, DPoPOptions, DPoPRequest } from './dpop.js'
// The proof JWS check, shared with the Stamp server so DPoP proofs have one implementation.
export { ProofJWSVerifier, PROOF_JWS_ALGORITHMS, decodeBase64url } from './jws.js'
export type { ProofJWSVerifierOptions, VerifiedProofJWS } from './jws.js'
export { JWKSCache } from './jwks_cache.js'
export type { FetchLike, JWKSCacheOptions, JWKSCacheStats } from './jwks_cache.js'
export { discoverJWKSUri } from './discovery.js'
export type { DiscoveryOptions } from './discovery.js'
export {
  StampVerifierError, TokenMissing, RequestInvalid, TokenMalformed, TokenSignatureInvalid, TokenAlgorithmNotAllowed,
  TokenTypeInvalid, TokenIssuerInvalid, TokenAudienceInvalid, TokenClaimInvalid, TokenExpired, TokenNotYetValid,
  KeyNotFound, JWKSUnavailable, InsufficientScope, InsufficientUserAuthentication, wwwAuthenticate, errorBody,
  TokenDPoPBound, TokenNotDPoPBound, DPoPRequired, DPoPProofInvalid, DPoPNonceRequired,
} from './errors.js'
export { bearerToken } from './bearer.js'
export { bearerAuth } from './http.js'
export type { AuthenticatedRequest, BearerAuth, BearerAuthOptions, Middleware } from './http.js'
export type { StampVerifierErrorCode, BearerErrorCode, AuthScheme, WWWAuthenticateOptions } from './errors.js'
export {
  protectedResourceMetadata, resourceMetadataPath, resourceMetadataURL, canonicalResourceURI, PROTECTED_RESOURCE_WELL_KNOWN,
} from './resource_metadata.js'
export type { ProtectedResourceMetadata, ProtectedResourceOptions, ResourceServerOptions } from './resource_metadata.js'
