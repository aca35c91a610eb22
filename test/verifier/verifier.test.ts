/**
 * createVerifier against crafted tokens: every rejection a resource server must make (RFC 9068 §4,
 * RFC 8725), served by a tiny node:http issuer. No Fastify here: that proves the boundary.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createPublicKey, randomUUID } from 'node:crypto'
import { base64url, exportSPKI, generateKeyPair, SignJWT } from 'jose'
import {
  createVerifier, assertScopes, errorBody, wwwAuthenticate, InsufficientScope, StampVerifierError, TokenMissing,
  JWKSUnavailable, type StampVerifierErrorCode,
} from '../../packages/verifier/src/index.js'
import { AUDIENCE, generateTestKey, startJWKSServer } from '../fixtures/jwks_server.js'

const now = () => Math.floor(Date.now() / 1000)

async function rejects (t: Test, promise: Promise<unknown>, code: StampVerifierErrorCode, message: string) {
  try {
    await promise
    t.fail(`${message}: accepted`)
  } catch (err) {
    t.ok(err instanceof StampVerifierError, `${message}: a StampVerifierError`)
    t.equal((err as StampVerifierError).code, code, message)
  }
}

t.test('a well-formed access token verifies and returns typed claims', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri })
  const claims = await verifier.verify(await issuer.sign({ scope: 'orders:read orders:write' }))
  t.equal(claims.iss, issuer.issuer)
  t.equal(claims.sub, 'client-1')
  t.equal(claims.client_id, 'client-1')
  t.equal(claims.scope, 'orders:read orders:write')
  t.doesNotThrow(() => assertScopes(claims, ['orders:read', 'orders:write']))
  t.throws(() => assertScopes(claims, ['orders:delete']), InsufficientScope)
  // application/at+jwt is the same media type (RFC 9068 §4).
  t.ok(await verifier.verify(await issuer.sign({}, { typ: 'application/at+jwt' })))
  // An audience list matches when it contains this resource server.
  t.ok(await verifier.verify(await issuer.sign({ aud: ['https://other.example', AUDIENCE] })))
})

t.test('every crafted rejection gets its own stable code', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri })
  const [key] = issuer.keys
  const sign = issuer.sign.bind(issuer)

  const header = (h: object) => base64url.encode(JSON.stringify(h))
  const body = base64url.encode(JSON.stringify({ iss: issuer.issuer, aud: AUDIENCE, sub: 'x', client_id: 'x', jti: 'j', iat: now(), exp: now() + 60 }))
  await rejects(t, verifier.verify(`${header({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${body}.`), 'ERR_STAMP_TOKEN_ALG_NOT_ALLOWED', 'alg none')
  await rejects(t, verifier.verify(`${header({ alg: 'none', typ: 'at+jwt' })}.${body}`), 'ERR_STAMP_TOKEN_MALFORMED', 'two-part unsecured JWT')

  // The classic key confusion: HMAC keyed with the published RSA public key (RFC 8725 §2.1).
  const pem = await exportSPKI(key.publicKey)
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' })
  for (const secret of [new TextEncoder().encode(pem), new Uint8Array(der)]) {
    const forged = await new SignJWT({ client_id: 'x', scope: 'orders:write' })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(issuer.issuer).setAudience(AUDIENCE).setSubject('x').setJti('j').setIssuedAt().setExpirationTime('5m')
      .sign(secret)
    await rejects(t, verifier.verify(forged), 'ERR_STAMP_TOKEN_ALG_NOT_ALLOWED', 'HS256 signed with the RSA public key')
  }
  t.throws(() => createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, algorithms: ['RS256', 'HS256'] }), TypeError, 'HMAC cannot even be configured')
  t.throws(() => createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, algorithms: ['none'] }), TypeError)
  // PS256 is a valid RSA algorithm but not pinned.
  const psToken = await new SignJWT({}).setProtectedHeader({ alg: 'PS256', kid: key.kid, typ: 'at+jwt' }).sign((await generateKeyPair('PS256')).privateKey)
  await rejects(t, verifier.verify(psToken), 'ERR_STAMP_TOKEN_ALG_NOT_ALLOWED', 'an algorithm outside the pinned list')

  await rejects(t, verifier.verify(await sign({ aud: 'https://billing.example' })), 'ERR_STAMP_TOKEN_AUDIENCE_INVALID', 'wrong aud')
  await rejects(t, verifier.verify(await sign({ iss: 'https://evil.example' })), 'ERR_STAMP_TOKEN_ISSUER_INVALID', 'wrong iss')
  await rejects(t, verifier.verify(await sign({ iss: issuer.issuer + '/' })), 'ERR_STAMP_TOKEN_ISSUER_INVALID', 'iss compared exactly')
  await rejects(t, verifier.verify(await sign({ iat: now() - 600, exp: now() - 60 })), 'ERR_STAMP_TOKEN_EXPIRED', 'expired')
  await rejects(t, verifier.verify(await sign({ nbf: now() + 60 })), 'ERR_STAMP_TOKEN_NOT_YET_VALID', 'nbf in the future')
  await rejects(t, verifier.verify(await sign({ iat: now() + 60, exp: now() + 360 })), 'ERR_STAMP_TOKEN_NOT_YET_VALID', 'issued in the future')
  await rejects(t, verifier.verify(await sign({}, { typ: 'rt+jwt' })), 'ERR_STAMP_TOKEN_TYPE_INVALID', 'refresh token (typ rt+jwt)')
  await rejects(t, verifier.verify(await sign({ nonce: 'n' }, { typ: 'JWT' })), 'ERR_STAMP_TOKEN_TYPE_INVALID', 'ID token (typ JWT)')
  await rejects(t, verifier.verify(await sign({}, { typ: undefined })), 'ERR_STAMP_TOKEN_TYPE_INVALID', 'no typ at all')
  await rejects(t, verifier.verify(await sign({ client_id: undefined })), 'ERR_STAMP_TOKEN_CLAIM_INVALID', 'no client_id')
  await rejects(t, verifier.verify(await sign({ jti: undefined })), 'ERR_STAMP_TOKEN_CLAIM_INVALID', 'no jti')
  await rejects(t, verifier.verify(await sign({ exp: undefined })), 'ERR_STAMP_TOKEN_CLAIM_INVALID', 'no exp')
  await rejects(t, verifier.verify(await sign({ client_id: 42 })), 'ERR_STAMP_TOKEN_CLAIM_INVALID', 'client_id not a string')

  const impostor = await generateTestKey(key.kid)
  await rejects(t, verifier.verify(await sign({}, {}, impostor)), 'ERR_STAMP_TOKEN_SIGNATURE_INVALID', 'signed by another key under a published kid')
  const good = await sign()
  const [h, , s] = good.split('.')
  const tampered = `${h}.${base64url.encode(JSON.stringify({ iss: issuer.issuer, aud: AUDIENCE, sub: 'admin', client_id: 'x', jti: 'j', iat: now(), exp: now() + 60 }))}.${s}`
  await rejects(t, verifier.verify(tampered), 'ERR_STAMP_TOKEN_SIGNATURE_INVALID', 'payload swapped under a valid signature')
  await rejects(t, verifier.verify(await sign({}, {}, await generateTestKey())), 'ERR_STAMP_KEY_NOT_FOUND', 'unknown kid')
  await rejects(t, verifier.verify('not.a.jwt'), 'ERR_STAMP_TOKEN_MALFORMED', 'garbage')
  await rejects(t, verifier.verify(''), 'ERR_STAMP_TOKEN_MALFORMED', 'empty string')
  await rejects(t, verifier.verify(randomUUID()), 'ERR_STAMP_TOKEN_MALFORMED', 'opaque token')
})

t.test('clock tolerance is configurable, and the clock can be frozen', async (t) => {
  const issuer = await startJWKSServer(t)
  const base = { issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri }
  const justExpired = await issuer.sign({ iat: now() - 300, exp: now() - 2 })
  t.ok(await createVerifier(base).verify(justExpired), 'the default 5 s tolerance absorbs 2 s of skew')
  await rejects(t, createVerifier({ ...base, clockTolerance: 0 }).verify(justExpired), 'ERR_STAMP_TOKEN_EXPIRED', 'no tolerance')
  const notYet = await issuer.sign({ nbf: now() + 3 })
  t.ok(await createVerifier(base).verify(notYet), 'nbf within tolerance')
  await rejects(t, createVerifier({ ...base, clockTolerance: 1 }).verify(notYet), 'ERR_STAMP_TOKEN_NOT_YET_VALID', 'nbf beyond a 1 s tolerance')

  const token = await issuer.sign()
  let clock = Date.now()
  const frozen = createVerifier({ ...base, now: () => clock })
  t.ok(await frozen.verify(token))
  clock += 310_000
  await rejects(t, frozen.verify(token), 'ERR_STAMP_TOKEN_EXPIRED', 'expired once the frozen clock passes exp')
  clock -= 400_000
  await rejects(t, frozen.verify(token), 'ERR_STAMP_TOKEN_NOT_YET_VALID', 'not valid before iat')
  t.throws(() => createVerifier({ ...base, clockTolerance: -1 }), TypeError)
  t.throws(() => createVerifier({ ...base, audience: [] }), TypeError)
  t.throws(() => createVerifier({ ...base, issuer: 'stamp' }), TypeError)
})

t.test('errors map to RFC 6750 WWW-Authenticate values and JSON bodies', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri })
  let expired: unknown
  try { await verifier.verify(await issuer.sign({ iat: now() - 600, exp: now() - 60 })) } catch (err) { expired = err }
  t.equal(wwwAuthenticate(expired, { realm: 'orders' }), 'Bearer realm="orders", error="invalid_token", error_description="the access token expired"')
  t.same(errorBody(expired), { statusCode: 401, error: 'invalid_token', error_description: 'the access token expired' })
  t.equal(wwwAuthenticate(new TokenMissing(), { realm: 'orders' }), 'Bearer realm="orders"', '§3.1: no error code without credentials')
  t.equal(wwwAuthenticate(new TokenMissing()), 'Bearer')
  t.equal(wwwAuthenticate(new InsufficientScope(['orders:write', 'orders:admin'])),
    'Bearer error="insufficient_scope", error_description="the access token lacks the required scope: orders:write orders:admin", scope="orders:write orders:admin"')
  t.equal(errorBody(new InsufficientScope(['a'])).statusCode, 403)
  t.equal(errorBody(new JWKSUnavailable()).statusCode, 503)
  t.equal(wwwAuthenticate(new Error('boom')), 'Bearer error="invalid_token", error_description="the access token is invalid"', 'foreign errors reveal nothing')
  t.equal(wwwAuthenticate(new TokenMissing(), { realm: 'a"b\\c' }), 'Bearer realm="abc"', 'quotes and backslashes cannot break the header')
  t.equal((expired as Error).name, 'TokenExpired')
  t.ok((expired as Error).cause, 'the jose error is kept as cause, for logs')
})
