/**
 * RFC 9470 step-up at the resource server: the core verifier's `assertAuthentication`, its
 * `WWW-Authenticate` challenge, and the node:http helper's per-route requirement. No Fastify here
 * (the Fastify plugin has its own file): the core stays framework-free.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import {
  assertAuthentication, createVerifier, errorBody, wwwAuthenticate, InsufficientUserAuthentication,
} from '../../packages/verifier/src/index.js'
import { bearerAuth } from '../../packages/verifier/src/http.js'
import { AUDIENCE, startJWKSServer } from '../fixtures/jwks_server.js'

const MFA = 'urn:stamp:acr:mfa'
const SFA = 'urn:stamp:acr:sfa'
const nowS = () => Math.floor(Date.now() / 1000)

t.test('assertAuthentication: acr values and maximum age', async (t) => {
  t.doesNotThrow(() => assertAuthentication({ acr: MFA, auth_time: nowS() }, { acrValues: [MFA] }))
  t.doesNotThrow(() => assertAuthentication({ acr: SFA }, { acrValues: [MFA, SFA] }), 'any listed value')
  t.throws(() => assertAuthentication({ acr: SFA }, { acrValues: [MFA] }), InsufficientUserAuthentication)
  t.throws(() => assertAuthentication({}, { acrValues: [MFA] }), InsufficientUserAuthentication, 'no acr at all')
  t.doesNotThrow(() => assertAuthentication({ auth_time: nowS() - 100 }, { maxAge: 300 }))
  t.throws(() => assertAuthentication({ auth_time: nowS() - 400 }, { maxAge: 300 }), InsufficientUserAuthentication, 'too old')
  t.throws(() => assertAuthentication({}, { maxAge: 300 }), InsufficientUserAuthentication, 'no auth_time: unknown age')
  t.doesNotThrow(() => assertAuthentication({ auth_time: 1000 }, { maxAge: 300 }, 1200 * 1000), 'injected clock')
  t.doesNotThrow(() => assertAuthentication({}, {}), 'no requirement')
})

t.test('the challenge and body (RFC 9470 §3)', async (t) => {
  const err = new InsufficientUserAuthentication({ acrValues: [MFA], maxAge: 300 })
  t.equal(err.statusCode, 401)
  t.equal(err.code, 'ERR_STAMP_INSUFFICIENT_USER_AUTHENTICATION')
  t.equal(wwwAuthenticate(err, { realm: 'orders' }),
    `Bearer realm="orders", error="insufficient_user_authentication", error_description="a stronger authentication is required", acr_values="${MFA}", max_age="300"`)
  t.same(errorBody(err), { statusCode: 401, error: 'insufficient_user_authentication', error_description: 'a stronger authentication is required' })
  t.equal(wwwAuthenticate(new InsufficientUserAuthentication({ maxAge: 60 })),
    'Bearer error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age="60"')
})

t.test('verify() refuses acr and auth_time of the wrong type', async (t) => {
  const issuer = await startJWKSServer(t)
  const verifier = createVerifier({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri })
  const claims = await verifier.verify(await issuer.sign({ acr: MFA, auth_time: nowS() }))
  t.equal(claims.acr, MFA)
  await t.rejects(verifier.verify(await issuer.sign({ acr: 2 })), { code: 'ERR_STAMP_TOKEN_CLAIM_INVALID' })
  await t.rejects(verifier.verify(await issuer.sign({ auth_time: 'yesterday' })), { code: 'ERR_STAMP_TOKEN_CLAIM_INVALID' })
})

async function listen (handler: (req: IncomingMessage, res: ServerResponse) => void, t: Test): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

t.test('node:http: a route requiring MFA and a recent sign-in', async (t) => {
  const issuer = await startJWKSServer(t)
  const auth = bearerAuth({ issuer: issuer.issuer, audience: AUDIENCE, jwksUri: issuer.jwksUri, realm: 'orders' })
  t.throws(() => auth.requireAuthentication({ maxAge: -1 }), TypeError)
  t.throws(() => auth.requireAuthentication({ acrValues: ['a b'] }), TypeError)
  const guard = auth.requireAuthentication({ acrValues: [MFA], maxAge: 300, scopes: ['orders:read'] })
  const base = await listen((req, res) => guard(req, res, () => res.writeHead(200).end('ok')), t)
  const get = async (claims: Record<string, unknown>) => fetch(base, { headers: { authorization: `Bearer ${await issuer.sign({ scope: 'orders:read', ...claims })}` } })

  t.equal((await get({ acr: MFA, auth_time: nowS() - 10 })).status, 200)
  const weak = await get({ acr: SFA, auth_time: nowS() - 10 })
  t.equal(weak.status, 401)
  t.equal(weak.headers.get('www-authenticate'),
    `Bearer realm="orders", error="insufficient_user_authentication", error_description="a stronger authentication is required", acr_values="${MFA}", max_age="300"`)
  t.same(await weak.json(), { error: 'insufficient_user_authentication', error_description: 'a stronger authentication is required' })
  const old = await get({ acr: MFA, auth_time: nowS() - 1000 })
  t.equal(old.status, 401)
  t.match(old.headers.get('www-authenticate'), /a more recent authentication is required/)
  const scope = await fetch(base, { headers: { authorization: `Bearer ${await issuer.sign({ scope: 'other', acr: MFA, auth_time: nowS() })}` } })
  t.equal(scope.status, 403, 'scopes are still checked')
})
