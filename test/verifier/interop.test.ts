/**
 * Interoperability: Stamp's access tokens, discovery and JWKS work with the common Node verifiers,
 * not only with `stamp-verifier`: jose's `createRemoteJWKSet`, `jwks-rsa` + `jsonwebtoken`, and
 * `@fastify/jwt` + `get-jwks`. Each is configured the way its docs recommend, with the issuer,
 * audience and algorithm pinned.
 *
 * @module
 */
import t from 'tap'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import jwt from 'jsonwebtoken'
import jwksRsa from 'jwks-rsa'
import buildGetJwks from 'get-jwks'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import Fastify, { type FastifyRequest } from 'fastify'
import { startStamp } from '../fixtures/stamp_server.js'

const ORDERS = 'https://orders.example'

t.test('Stamp tokens verify with third-party libraries', async (t) => {
  const stamp = await startStamp(t)
  const caller = await stamp.client({ scopes: ['orders:read'], audiences: [ORDERS, 'https://other.example'] })
  const metadata = await (await fetch(`${stamp.issuer}/.well-known/openid-configuration`)).json() as { issuer: string, jwks_uri: string }
  t.equal(metadata.issuer, stamp.issuer)
  t.equal(metadata.jwks_uri, `${stamp.issuer}/jwks`)
  const token = await stamp.accessToken(caller, { resource: ORDERS, scope: 'orders:read' })
  const foreign = await stamp.accessToken(caller, { resource: 'https://other.example' })

  t.test('jose createRemoteJWKSet + jwtVerify', async (t) => {
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri))
    const options = { issuer: stamp.issuer, audience: ORDERS, algorithms: ['RS256'], typ: 'at+jwt' }
    const { payload, protectedHeader } = await jwtVerify(token, jwks, options)
    t.equal(protectedHeader.typ, 'at+jwt')
    t.equal(payload.client_id, caller.client.id)
    t.equal(payload.scope, 'orders:read')
    await t.rejects(jwtVerify(foreign, jwks, options), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' })
    // After a rotation the remote set picks up the new key.
    await stamp.app.keyring.rotate({ force: true })
    const rotated = await stamp.accessToken(caller, { resource: ORDERS })
    t.ok((await jwtVerify(rotated, jwks, options)).payload.jti)
  })

  t.test('jwks-rsa + jsonwebtoken', async (t) => {
    const client = jwksRsa({ jwksUri: metadata.jwks_uri, cache: true, rateLimit: true, jwksRequestsPerMinute: 10 })
    const getKey: jwt.GetPublicKeyOrSecret = (header, callback) => {
      client.getSigningKey(header.kid).then((key) => callback(null, key.getPublicKey()), (err) => callback(err))
    }
    const verify = (tok: string) => new Promise<jwt.Jwt>((resolve, reject) => {
      jwt.verify(tok, getKey, { algorithms: ['RS256'], issuer: stamp.issuer, audience: ORDERS, complete: true }, (err, decoded) => {
        if (err) reject(err)
        else resolve(decoded as jwt.Jwt)
      })
    })
    const fresh = await stamp.accessToken(caller, { resource: ORDERS, scope: 'orders:read' })
    const decoded = await verify(fresh)
    // jsonwebtoken does not check typ; a resource server using it must (RFC 9068 §4).
    t.equal(decoded.header.typ, 'at+jwt')
    t.equal((decoded.payload as jwt.JwtPayload).client_id, caller.client.id)
    await t.rejects(verify(foreign), { name: 'JsonWebTokenError', message: /audience invalid/ })
    const key = await client.getSigningKey(decodeProtectedHeader(fresh).kid)
    t.equal(key.alg, 'RS256')
  })

  t.test('@fastify/jwt + get-jwks', async (t) => {
    // The domain is pinned to Stamp's issuer, never taken from the token's own iss.
    const getJwks = buildGetJwks({ providerDiscovery: true, issuersWhitelist: [stamp.issuer] })
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(fastifyJwt, {
      decode: { complete: true },
      secret: async (_request: FastifyRequest, token: TokenOrHeader) => {
        const header = 'header' in token ? token.header : token
        return getJwks.getPublicKey({ domain: stamp.issuer, kid: header.kid, alg: header.alg })
      },
      verify: { allowedIss: stamp.issuer, allowedAud: ORDERS, algorithms: ['RS256'] },
    })
    app.get('/orders', async (request) => {
      const claims = await request.jwtVerify<{ client_id: string, scope: string }>()
      return { client_id: claims.client_id, scope: claims.scope }
    })
    const fresh = await stamp.accessToken(caller, { resource: ORDERS, scope: 'orders:read' })
    const ok = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${fresh}` } })
    t.equal(ok.statusCode, 200, ok.body)
    t.same(ok.json(), { client_id: caller.client.id, scope: 'orders:read' })
    const refused = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${foreign}` } })
    t.equal(refused.statusCode, 401)
  })
})
