/** The admin API's `exchange_audiences` (RFC 8693 allow-list) and the grant short names. */
import t from 'tap'
import { build, createAdmin } from '../../helper.js'

t.test('admin API: device_code and token exchange clients', async (t) => {
  const app = await build(t)
  const admin = await createAdmin(app)
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    app.inject({ method, url, payload, headers: { authorization: admin.authorization } })

  const created = await call('POST', '/admin/clients', {
    name: 'gateway', grant_types: ['token_exchange', 'client_credentials'], scopes: ['read'], exchange_audiences: ['https://orders.example.com'],
  })
  t.equal(created.statusCode, 201, created.body)
  const client = created.json()
  t.same(client.grant_types.sort(), ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'])
  t.same(client.exchange_audiences, ['https://orders.example.com'])
  t.same((await call('GET', `/admin/clients/${client.client_id}`)).json().exchange_audiences, ['https://orders.example.com'])

  const patched = await call('PATCH', `/admin/clients/${client.client_id}`, { exchange_audiences: ['https://billing.example.com'] })
  t.same(patched.json().exchange_audiences, ['https://billing.example.com'])
  const emptied = await call('PATCH', `/admin/clients/${client.client_id}`, { exchange_audiences: [] })
  t.equal(emptied.statusCode, 400)
  t.equal(emptied.json().error_description, 'token exchange requires at least one exchange audience')

  const device = await call('POST', '/admin/clients', { name: 'tv', public: true, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], scopes: ['openid'] })
  t.equal(device.statusCode, 201, device.body)
  t.ok(device.json().grant_types.includes('refresh_token'))
  const publicExchange = await call('POST', '/admin/clients', { name: 'spa', public: true, grant_types: ['token_exchange'], exchange_audiences: ['https://orders.example.com'] })
  t.equal(publicExchange.json().error_description, 'a public client cannot use token exchange')
})
