/**
 * Registration rules for client keys and the fapi2 profile, without a database: public members
 * only, pinned key types, and what the profile turns on.
 */
import t from 'tap'
import { ClientKeysError, publicClientJWKS } from '../../src/domain/client_keys.js'
import { normalizeClientSettings, type ClientSettings } from '../../src/domain/clients.js'
import { OAuthError } from '../../src/errors.js'
import { clientKey, jwksOf } from '../fixtures/client_keys.js'

const es256 = await clientKey('ES256')
const ed = await clientKey('EdDSA')
const rsa = await clientKey('RS256')

t.test('publicClientJWKS keeps public members only and refuses private or weak keys', async (t) => {
  const set = publicClientJWKS({ keys: [{ ...es256.publicJwk, extra: 'dropped' }, ed.publicJwk, rsa.publicJwk] }, 20)
  t.same(Object.keys(set.keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'])
  const refuse = (value: unknown, message: RegExp) => t.throws(() => publicClientJWKS(value, 2), { name: 'ClientKeysError', message })
  refuse({ keys: [{ ...es256.publicJwk, d: 'AAAA' }] }, /private key material/)
  refuse({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, /private key material/)
  refuse({ keys: [{ ...es256.publicJwk, crv: 'P-384' }] }, /P-256/)
  refuse({ keys: [{ ...ed.publicJwk, crv: 'X25519' }] }, /Ed25519/)
  refuse({ keys: [{ ...rsa.publicJwk, n: 'AQAB' }] }, /2048 bits/)
  refuse({ keys: [{ ...es256.publicJwk, use: 'enc' }] }, /use must be sig/)
  refuse({ keys: [{ ...es256.publicJwk, alg: 'HS256' }] }, /alg must be one of/)
  refuse({ keys: [es256.publicJwk, ed.publicJwk, rsa.publicJwk] }, /more than 2 keys/)
  refuse({ keys: [] }, /no keys/)
  refuse([], /keys array/)
  t.ok(new ClientKeysError('x') instanceof Error)
})

const base: ClientSettings = {
  name: 'Bank', public: false, firstParty: false, grantTypes: ['authorization_code'], redirectUris: ['https://bank.example/cb'],
  postLogoutRedirectUris: [], backchannelLogoutUri: null, scopes: ['openid'], audiences: [], requirePkce: false,
}
const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials', 'password']

t.test('the fapi2 profile: private_key_jwt required; PKCE, PAR and DPoP forced on; no password grant', async (t) => {
  const fapi = normalizeClientSettings({ ...base, tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(es256), profile: 'fapi2' }, GRANTS)
  t.match(fapi, { requirePkce: true, requirePushedAuthorizationRequests: true, dpopBoundAccessTokens: true, profile: 'fapi2' })
  const refused = (settings: Partial<ClientSettings>, message: RegExp) => {
    try {
      normalizeClientSettings({ ...base, ...settings }, GRANTS)
      t.fail(`accepted: ${JSON.stringify(settings)}`)
    } catch (err) {
      t.ok(err instanceof OAuthError && message.test(err.description), `${String((err as Error).message)} ~ ${message}`)
    }
  }
  refused({ profile: 'fapi2' }, /needs private_key_jwt/)
  refused({ profile: 'fapi2', tokenEndpointAuthMethod: 'private_key_jwt', jwks: jwksOf(es256), firstParty: true, grantTypes: ['password'] }, /password grant/)
  refused({ profile: 'fapi1' }, /unknown profile/)
  refused({ tokenEndpointAuthMethod: 'private_key_jwt' }, /jwks or jwks_uri/)
  refused({ tokenEndpointAuthMethod: 'private_key_jwt', public: true, jwks: jwksOf(es256) }, /public client/)
  refused({ jwks: jwksOf(es256), jwksUri: 'https://bank.example/jwks' }, /not both/)
  refused({ jwksUri: 'http://bank.example/jwks' }, /https/)
  refused({ tokenEndpointAuthMethod: 'client_secret_jwt' }, /cannot be stored/)
  const plain = normalizeClientSettings(base, GRANTS)
  t.match(plain, { tokenEndpointAuthMethod: null, jwks: null, jwksUri: null, requirePushedAuthorizationRequests: false, profile: null })
})
