/**
 * Admin API for mail links, through a real SMTP server process: send a user a reset email, and
 * create, list and withdraw invitations. Every action is audited with the admin's sub.
 */
import t from 'tap'
import { build, createAdmin, createUser } from '../../helper.js'
import { Browser, ISSUER, hiddenFields } from '../../fixtures/browser.js'
import { linkIn, startSMTPServer } from '../../fixtures/smtp_server.js'

const smtp = await startSMTPServer(t)

t.test('admin: send a reset email, invite, list and withdraw invitations', async (t) => {
  const app = await build(t, { env: { SMTP_URL: smtp.url, SIGNUP: 'invite' } })
  const admin = await createAdmin(app)
  const headers = { authorization: admin.authorization }
  const { user } = await createUser(app, 'uma')

  const sent = await app.inject({ method: 'POST', url: `/admin/users/${user.id}/reset-email`, headers, payload: { locale: 'de' } })
  t.equal(sent.statusCode, 200, sent.body)
  t.same(sent.json(), { sent: true })
  const mail = await smtp.waitFor((m) => /uma@example\.com/.test(m.to))
  t.equal(mail.subject, 'Passwort für Stamp zurücksetzen')
  const browser = new Browser(app)
  const form = await browser.get(linkIn(mail, `${ISSUER}/password/reset?token=`))
  t.match(form.body, /<html lang="en">/, 'the page follows the reader\'s browser, not the mail')
  const done = await browser.post(`${ISSUER}/password/reset`, { ...hiddenFields(form.body), password: 'chosen by uma herself', confirm: 'chosen by uma herself' })
  t.match(done.body, /Password changed/)

  const missing = await app.inject({ method: 'POST', url: '/admin/users/00000000-0000-4000-8000-000000000000/reset-email', headers, payload: {} })
  t.equal(missing.statusCode, 404)
  const noMail = await app.usersRepository.create({ username: 'nomail', email: null, passwordHash: user.passwordHash, scopes: [] })
  const refused = await app.inject({ method: 'POST', url: `/admin/users/${noMail.id}/reset-email`, headers, payload: {} })
  t.equal(refused.statusCode, 400)
  t.match(refused.json().error_description, /no email/)

  const created = await app.inject({ method: 'POST', url: '/admin/invites', headers, payload: { email: 'Vera@Example.com', scopes: ['read'] } })
  t.equal(created.statusCode, 201, created.body)
  const invite = created.json()
  t.match(invite, { email: 'vera@example.com', scopes: ['read'], created_by: admin.user.id, invite_url: /^http:\/\/stamp\.test\/signup\?invite=[A-Za-z0-9_-]{43}$/ })
  const invited = await smtp.waitFor((m) => /vera@example\.com/.test(m.to))
  t.equal(linkIn(invited, `${ISSUER}/signup?invite=`), invite.invite_url)
  const list = await app.inject({ url: '/admin/invites', headers })
  t.same(list.json().items.map((i: { id: string }) => i.id), [invite.id])
  t.notOk('invite_url' in list.json().items[0], 'the link is shown once')
  const withdrawn = await app.inject({ method: 'DELETE', url: `/admin/invites/${invite.id}`, headers })
  t.equal(withdrawn.statusCode, 204)
  t.equal((await app.inject({ method: 'DELETE', url: `/admin/invites/${invite.id}`, headers })).statusCode, 404)
  t.equal((await app.inject({ url: invite.invite_url.slice(ISSUER.length) })).statusCode, 400, 'a withdrawn invitation no longer opens the form')
  const bad = await app.inject({ method: 'POST', url: '/admin/invites', headers, payload: { email: 'x@y.z', extra: 1 } })
  t.equal(bad.statusCode, 400, 'unknown properties are refused')

  const events = (await app.auditStore.list({ limit: 100 })).map((e) => ({ type: e.type, actor: e.actor }))
  for (const type of ['password_reset_requested', 'password_reset', 'invite_created', 'invite_revoked']) {
    t.ok(events.some((e) => e.type === type), type)
  }
  t.ok(events.some((e) => e.type === 'password_reset_requested' && e.actor === admin.user.id), 'the admin is the actor')
})
