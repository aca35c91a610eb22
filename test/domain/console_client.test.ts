/**
 * The console's own OAuth client: created once, repaired when its settings drifted (a new
 * issuer), left disabled when an operator disabled it, and never created for an issuer that
 * cannot carry a redirect URI.
 */
import t from 'tap'
import { build } from '../helper.js'
import { CONSOLE_CLIENT_ID, CONSOLE_SCOPES, ensureConsoleClient } from '../../src/domain/console_client.js'
import { ADMIN_SCOPE } from '../../src/schemas/admin.js'

t.test('ensureConsoleClient', async (t) => {
  t.ok((CONSOLE_SCOPES as readonly string[]).includes(ADMIN_SCOPE), 'the console asks for the admin API\'s scope')
  const app = await build(t)
  const store = app.clientStore
  const refused = await ensureConsoleClient(store, 'http://stamp.test')
  t.match(refused, { refused: /https.*http:\/\/stamp\.test\/console\/callback/ }, 'an http issuer on a public host is refused, saying why')
  t.equal(await store.find(CONSOLE_CLIENT_ID), null)
  t.equal(await ensureConsoleClient(store, 'https://id.example.com'), 'created')
  t.equal(await ensureConsoleClient(store, 'https://id.example.com'), 'unchanged', 'idempotent')
  const created = (await store.find(CONSOLE_CLIENT_ID))!
  t.equal(created.public, true)
  t.equal(created.secretHash, null)
  t.equal(created.firstParty, true)
  t.equal(created.requirePkce, true)
  t.same(created.grantTypes, ['authorization_code', 'refresh_token'])
  t.same(created.scopes, ['openid', 'profile', 'stamp:admin'])
  t.same(created.audiences, [], 'tokens for Stamp itself: the admin API')

  await store.update(CONSOLE_CLIENT_ID, { scopes: ['openid'], disabled: true })
  t.equal(await ensureConsoleClient(store, 'https://login.example.com'), 'updated')
  const repaired = (await store.find(CONSOLE_CLIENT_ID))!
  t.same(repaired.redirectUris, ['https://login.example.com/console/callback'], 'follows the issuer')
  t.same(repaired.scopes, ['openid', 'profile', 'stamp:admin'])
  t.equal(repaired.disabled, true, 'an operator\'s disable stays')

  const racing = await Promise.all([1, 2, 3].map(async () => { await store.delete(CONSOLE_CLIENT_ID); return ensureConsoleClient(store, 'https://id.example.com') }))
  t.ok(racing.every((r) => typeof r === 'string'), 'concurrent boots all succeed')
  t.ok(await store.find(CONSOLE_CLIENT_ID))
})
