import t from 'tap'
import * as oidc from 'openid-client'
import { build, createClient, createUser } from '../helper.js'
import { freePort } from '../fixtures/process.js'

// A standard OAuth client library discovers Stamp and runs client_credentials, password and refresh.
t.test('openid-client against Stamp over real HTTP', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = await build(t, { env: { ISSUER: issuer } })
  await app.listen({ port, host: '127.0.0.1' })
  const service = await createClient(app, { grantTypes: ['client_credentials'], scopes: ['read'] })
  const webapp = await createClient(app, { firstParty: true, grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const { username, password } = await createUser(app, 'gina', 'correct horse battery staple', ['read'])
  const options = { execute: [oidc.allowInsecureRequests] }

  const serviceConfig = await oidc.discovery(new URL(issuer), service.client.id, service.secret!, oidc.ClientSecretBasic(service.secret!), options)
  t.equal(serviceConfig.serverMetadata().issuer, issuer)
  const cc = await oidc.clientCredentialsGrant(serviceConfig, { scope: 'read' })
  t.equal(cc.token_type, 'bearer')
  t.equal(cc.scope, 'read')
  t.ok(cc.access_token)

  const appConfig = await oidc.discovery(new URL(issuer), webapp.client.id, webapp.secret!, oidc.ClientSecretPost(webapp.secret!), options)
  const pair = await oidc.genericGrantRequest(appConfig, 'password', { username, password })
  t.ok(pair.access_token)
  t.ok(pair.refresh_token)
  const refreshed = await oidc.refreshTokenGrant(appConfig, pair.refresh_token!)
  t.ok(refreshed.access_token)
  t.not(refreshed.refresh_token, pair.refresh_token)

  // A retry of the same token gets the same successor (crash-safe refresh); once that successor
  // was used, the old token is reuse.
  const retried = await oidc.refreshTokenGrant(appConfig, pair.refresh_token!)
  t.equal(retried.refresh_token, refreshed.refresh_token, 'a retry gets the same successor')
  const next = await oidc.refreshTokenGrant(appConfig, refreshed.refresh_token!)
  t.ok(next.refresh_token)
  const reuse = await oidc.refreshTokenGrant(appConfig, pair.refresh_token!).catch((err: unknown) => err)
  t.equal((reuse as { error?: string }).error, 'invalid_grant', 'reuse surfaces as a spec error')
  const introspection = await oidc.tokenIntrospection(appConfig, next.refresh_token!)
  t.equal(introspection.active, false, 'the reuse revoked the family')
})
