/**
 * A refresh token never passes as an access token, even in a verifier that ignores `typ`
 * (issue 11 item 8): jsonwebtoken + jwks-rsa, configured the way their docs say (issuer, audience
 * and algorithm pinned, keys from Stamp's JWKS over HTTP), refuse Stamp's refresh tokens for every
 * audience a client can have, because a refresh token's audience is one no resource can have.
 *
 * @module
 */
import t from 'tap'
import jwt from 'jsonwebtoken'
import jwksRsa from 'jwks-rsa'
import { decodeJwt, SignJWT } from 'jose'
import { startStamp } from '../fixtures/stamp_server.js'
import { createAdmin, createUser, postForm } from '../helper.js'
import { REFRESH_TOKEN_AUDIENCE } from '../../src/domain/tokens.js'

const API = 'https://api.example.com'
const OTHER = 'https://other.example.com'
const claims = decodeJwt

t.test('refresh tokens are refused as access tokens by jsonwebtoken + jwks-rsa', async (t) => {
  const stamp = await startStamp(t)
  const { app } = stamp
  const withAudiences = await stamp.client({ firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], audiences: [API, OTHER] })
  const withoutAudiences = await stamp.client({ firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], audiences: [] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])

  const jwks = jwksRsa({ jwksUri: `${stamp.issuer}/jwks`, cache: true })
  const getKey: jwt.GetPublicKeyOrSecret = (header, callback) => {
    jwks.getSigningKey(header.kid).then((key) => callback(null, key.getPublicKey()), (err) => callback(err))
  }
  const verify = (token: string, audience: string) => new Promise<jwt.JwtPayload>((resolve, reject) => {
    jwt.verify(token, getKey, { algorithms: ['RS256'], issuer: stamp.issuer, audience }, (err, decoded) => {
      if (err) reject(err)
      else resolve(decoded as jwt.JwtPayload)
    })
  })

  // Every audience a client can have: each registered one, and the issuer (no audiences registered).
  const cases = [
    { client: withAudiences, audiences: [API, OTHER] },
    { client: withoutAudiences, audiences: [stamp.issuer] },
  ]
  for (const { client, audiences } of cases) {
    const res = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })
    t.equal(res.statusCode, 200, res.body)
    const { access_token: accessToken, refresh_token: refreshToken } = res.json() as { access_token: string, refresh_token: string }
    t.equal(claims(refreshToken).aud, REFRESH_TOKEN_AUDIENCE)
    // Revoked, as in the finding: the family is gone, yet the token is still well signed.
    const jti = claims(refreshToken).jti as string
    await app.refreshTokens.revokeFamily((await app.refreshTokens.find(jti))!.familyId, new Date())
    for (const audience of audiences) {
      const payload = await verify(accessToken, audience)
      t.equal(payload.client_id, client.client.id, `control: the access token verifies for ${audience}`)
      await t.rejects(verify(refreshToken, audience), { name: 'JsonWebTokenError', message: /audience invalid/ }, `refresh token refused for ${audience}`)
    }
  }
})

t.test('the refresh-token audience can be no client\'s audience and no resource', async (t) => {
  const stamp = await startStamp(t)
  const { app } = stamp
  const admin = await createAdmin(app)
  const create = await app.inject({
    method: 'POST', url: '/admin/clients', headers: { authorization: admin.authorization },
    payload: { name: 'sneaky', grant_types: ['client_credentials'], audiences: [REFRESH_TOKEN_AUDIENCE] },
  })
  t.equal(create.statusCode, 400)
  t.equal(create.json().error, 'invalid_request')
  const client = await stamp.client({ scopes: ['read'], audiences: [API] })
  const patch = await app.inject({
    method: 'PATCH', url: `/admin/clients/${client.client.id}`, headers: { authorization: admin.authorization },
    payload: { audiences: [API, REFRESH_TOKEN_AUDIENCE] },
  })
  t.equal(patch.statusCode, 400)
  // A client registered with it anyway (straight into the database) still cannot get such a token.
  const forced = await stamp.client({ scopes: ['read'], audiences: [REFRESH_TOKEN_AUDIENCE] })
  const res = await postForm(app, '/token', { grant_type: 'client_credentials', resource: REFRESH_TOKEN_AUDIENCE }, { authorization: forced.basic })
  t.equal(res.statusCode, 400)
  t.equal(res.json().error, 'invalid_target')
  const implicit = await postForm(app, '/token', { grant_type: 'client_credentials' }, { authorization: forced.basic })
  t.equal(implicit.statusCode, 200)
  t.notMatch([claims(implicit.json().access_token).aud].flat(), [REFRESH_TOKEN_AUDIENCE], 'nor by default')
  t.notOk([claims(implicit.json().access_token).aud].flat().includes(REFRESH_TOKEN_AUDIENCE))
})

t.test('a refresh token whose audience is not the refresh audience is refused at /token', async (t) => {
  const stamp = await startStamp(t)
  const { app } = stamp
  const client = await stamp.client({ firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'], audiences: [API] })
  const { username, password } = await createUser(app, undefined, undefined, ['read'])
  const res = await postForm(app, '/token', { grant_type: 'password', username, password }, { authorization: client.basic })
  const real = claims(res.json().refresh_token)
  // The same claims, key and typ as the real token, but a resource's audience: not a refresh token.
  const { kid, alg, key } = app.keyring.signingKey()
  const forged = await new SignJWT({ client_id: real.client_id, scope: real.scope })
    .setProtectedHeader({ alg, kid, typ: 'rt+jwt' }).setIssuer(stamp.issuer).setSubject(real.sub as string).setAudience(API)
    .setIssuedAt(real.iat as number).setExpirationTime(real.exp as number).setJti(real.jti as string).sign(key)
  const refused = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: forged }, { authorization: client.basic })
  t.equal(refused.json().error, 'invalid_grant')
  t.equal((await app.refreshTokens.find(real.jti as string))!.consumedAt, null, 'nothing consumed')
  const ok = await postForm(app, '/token', { grant_type: 'refresh_token', refresh_token: res.json().refresh_token }, { authorization: client.basic })
  t.equal(ok.statusCode, 200, 'control: the real token works')
})
