/**
 * DPoP through `stamp-verifier/fastify` and `stamp-verifier/http`, with tokens from the real Stamp
 * on loopback: openid-client calls the resources with proofs (`fetchProtectedResource`), the
 * challenges and nonces follow RFC 9449 §7.1 and §9, and behind a proxy the configured public
 * URL is what `htu` is checked against.
 *
 * @module
 */
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import * as oidc from 'openid-client'
import stampAuth from '../../packages/verifier/src/fastify.js'
import { bearerAuth } from '../../packages/verifier/src/http.js'
import { createDPoPNonces } from '../../packages/verifier/src/index.js'
import { postForm } from '../helper.js'
import { startStamp } from '../fixtures/stamp_server.js'
import { dpopKey, proof } from '../fixtures/dpop.js'

const ORDERS = 'https://orders.example'
const RESOURCE = 'https://orders.example/api'

const stamp = await startStamp(t)
const client = await stamp.client({ scopes: ['orders:read'], audiences: [ORDERS, RESOURCE] })
const key = await dpopKey()
const tokenRes = await postForm(stamp.app, '/token', { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: client.basic, dpop: await proof(key, { htu: `${stamp.issuer}/token` }) })
const token = tokenRes.json().access_token as string
const bearer = await stamp.accessToken(client, { scope: 'orders:read' })

async function listen (server: { listen: (port: number, host: string, cb: () => void) => unknown, address: () => unknown }): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('the Fastify plugin', async (t) => {
  const app = Fastify()
  await app.register(stampAuth, { issuer: stamp.issuer, audience: [ORDERS, RESOURCE], realm: 'orders', dpop: true, resource: RESOURCE })
  app.get('/orders', { preHandler: app.requireScope('orders:read') }, async (request) => ({ sub: request.auth!.sub, jkt: request.auth!.cnf?.jkt }))
  t.teardown(() => app.close())
  const base = await app.listen({ port: 0, host: '127.0.0.1' })

  // openid-client signs the proof for the resource request (with ath).
  const config = new oidc.Configuration({ issuer: stamp.issuer }, client.client.id, client.secret!)
  oidc.allowInsecureRequests(config)
  const { importJWK } = await import('jose')
  const DPoP = oidc.getDPoPHandle(config, { privateKey: key.privateKey, publicKey: await importJWK(key.publicJwk, 'ES256') as typeof key.privateKey })
  const res = await oidc.fetchProtectedResource(config, token, new URL(`${base}/orders`), 'GET', undefined, undefined, { DPoP })
  t.equal(res.status, 200)
  t.same(await res.json(), { sub: client.client.id, jkt: key.jkt })

  const asBearer = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
  t.equal(asBearer.statusCode, 401)
  t.match(asBearer.headers['www-authenticate'], /^Bearer realm="orders", error="invalid_token", error_description="the access token is DPoP-bound[^"]*", scope="orders:read", resource_metadata="[^"]+", DPoP realm="orders", algs="ES256 RS256 PS256 EdDSA"/)
  const noProof = await app.inject({ url: '/orders', headers: { authorization: `DPoP ${token}` } })
  t.equal(noProof.statusCode, 401)
  t.equal(noProof.json().error, 'invalid_dpop_proof')
  t.match(noProof.headers['www-authenticate'], /DPoP realm="orders", algs="[^"]+", error="invalid_dpop_proof"/)
  const injectedUrl = 'http://localhost:80/orders'
  const wrongHtu = await app.inject({ url: '/orders', headers: { authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: 'http://localhost:80/other', accessToken: token }) } })
  t.equal(wrongHtu.json().error, 'invalid_dpop_proof', 'wrong htu')
  const ok = await app.inject({ url: '/orders?page=1', headers: { authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: injectedUrl, accessToken: token }) } })
  t.equal(ok.statusCode, 200, 'the query is not part of htu')
  t.equal((await app.inject({ url: '/orders', headers: { authorization: `Bearer ${bearer}` } })).statusCode, 200, 'bearer tokens still work')

  const metadata = await app.inject('/.well-known/oauth-protected-resource/api')
  t.same(metadata.json().dpop_signing_alg_values_supported, ['ES256', 'RS256', 'PS256', 'EdDSA'], 'RFC 9728 metadata names the proof algorithms')
})

t.test('the node:http helper behind a proxy, with nonces', async (t) => {
  const nonces = createDPoPNonces(randomBytes(32), 300)
  const auth = bearerAuth({ issuer: stamp.issuer, audience: ORDERS, dpop: { nonces, required: true }, publicURL: 'https://api.example.com/v1' })
  const server = createServer(async (req, res) => {
    const claims = await auth.authorize(req, res, ['orders:read'])
    if (claims) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub }))
  })
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const base = await listen(server)
  const get = (headers: Record<string, string>) => fetch(`${base}/orders`, { headers })
  const htu = 'https://api.example.com/v1/orders'

  const first = await get({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu, accessToken: token }) })
  t.equal(first.status, 401)
  t.equal((await first.json() as { error: string }).error, 'use_dpop_nonce')
  const nonce = first.headers.get('dpop-nonce')!
  t.equal(nonce, nonces.current())
  t.equal(first.headers.get('www-authenticate'), 'DPoP algs="ES256 RS256 PS256 EdDSA", error="use_dpop_nonce", error_description="a DPoP nonce is required"', 'DPoP only: one challenge')

  const ok = await get({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu, accessToken: token, nonce }) })
  t.equal(ok.status, 200)
  const local = await get({ authorization: `DPoP ${token}`, dpop: await proof(key, { htm: 'GET', htu: `${base}/orders`, accessToken: token, nonce }) })
  t.equal(local.status, 401, 'the URL the proxy forwarded to is not the public URL')
  const plain = await get({ authorization: `Bearer ${bearer}` })
  t.equal(plain.status, 401)
  t.match(plain.headers.get('www-authenticate'), /^DPoP algs="[^"]+", error="invalid_token", error_description="this resource accepts only DPoP-bound access tokens"/)
})
