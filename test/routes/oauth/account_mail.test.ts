/**
 * Mail flows through a real SMTP server process (smtp-server in a child process; messages read
 * with mailparser): password reset end to end (old password refused, sessions and refresh
 * families ended), no enumeration, rate limits per address and per IP, address verification,
 * invitations, open sign-up with verification before the first sign-in, and the outbox fallback
 * (an .eml file, nothing of it in the log).
 */
import t from 'tap'
import { readdirSync, readFileSync, statSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { simpleParser } from 'mailparser'
import type { FastifyInstance } from 'fastify'
import { build, createClient, createUser, passwordGrant, postForm, refreshGrant } from '../../helper.js'
import { Browser, ISSUER, authorizeURL, hiddenFields } from '../../fixtures/browser.js'
import { linkIn, startSMTPServer } from '../../fixtures/smtp_server.js'
import { loggerOptions } from '../../../src/logging.js'

const CB = 'https://app.example/cb'
const smtp = await startSMTPServer(t)

async function setup (t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}, options: Parameters<typeof build>[1] = {}) {
  const app = await build(t, { ...options, env: { SMTP_URL: smtp.url, MAIL_FROM: 'Stamp <id@stamp.test>', ...env } })
  const client = await createClient(app, { name: 'App', firstParty: true, grantTypes: ['authorization_code', 'password', 'refresh_token'], redirectUris: [CB], scopes: ['openid', 'offline_access'] })
  return { app, client }
}

/** Opens a page and submits its form with `fields`. */
async function submit (browser: Browser, url: string, fields: Record<string, string>) {
  const page = await browser.get(url)
  const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1]
  if (!action) throw new Error(`no form on ${url}: ${page.statusCode}`)
  return browser.post(action.replace(/&amp;/g, '&'), { ...hiddenFields(page.body), ...fields })
}

async function auditTypes (app: FastifyInstance) {
  return (await app.auditStore.list({ limit: 100 })).map((e) => ({ type: e.type, subject: e.subject, detail: e.detail }))
}

t.test('password reset end to end: mail, link, new password; old refused; sessions and families ended', async (t) => {
  const { app, client } = await setup(t)
  const { user, password } = await createUser(app, 'rita')
  await app.usersRepository.update(user.id, { email: 'Rita@Example.com' })
  // A live SSO session and a refresh family from before the reset.
  const browser = new Browser(app)
  const start = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const signedIn = await browser.signIn(start.res, 'rita', password)
  t.ok(signedIn.location?.searchParams.get('code'), 'signed in before the reset')
  const tokens = await passwordGrant(app, client, 'rita', password, 'openid offline_access')

  const login = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid', prompt: 'login' }))
  const forgotHref = /<a href="([^"]*\/password\/forgot[^"]*)">Forgot password\?<\/a>/.exec(login.res.body)?.[1]
  t.ok(forgotHref, 'the login page links "Forgot password?"')
  const sent = await submit(browser, forgotHref!.replace(/&amp;/g, '&'), { email: 'rita@example.COM' })
  t.equal(sent.statusCode, 200)
  t.match(sent.body, /Check your inbox/)
  t.match(sent.body, /Back to sign in<\/a>/, 'a way back to the sign-in that was interrupted')

  const mail = await smtp.waitFor((m) => /rita@example\.com/i.test(m.to) && /Reset your Stamp password/.test(m.subject))
  t.match(mail.text, /Hello rita,/)
  t.match(mail.text, /valid for 30 minutes/)
  t.equal(mail.headers.get('auto-submitted'), 'auto-generated')
  t.match(mail.html, /<a href="http:\/\/stamp\.test\/password\/reset\?token=/)
  const link = linkIn(mail, `${ISSUER}/password/reset?token=`)

  const fresh = new Browser(app) // the mail is often opened elsewhere
  const form = await fresh.get(link)
  t.equal(form.statusCode, 200)
  t.match(form.body, /Choose a new password/)
  const weak = await fresh.post(`${ISSUER}/password/reset`, { ...hiddenFields(form.body), password: '1qaz2wsx3edc4rfv', confirm: '1qaz2wsx3edc4rfv' })
  t.equal(weak.statusCode, 400, 'the password policy applies')
  t.match(weak.body, /too common/)
  const mismatch = await fresh.post(`${ISSUER}/password/reset`, { ...hiddenFields(form.body), password: 'a brand new passphrase', confirm: 'something else' })
  t.match(mismatch.body, /The two passwords differ/)
  const done = await fresh.post(`${ISSUER}/password/reset`, { ...hiddenFields(form.body), password: 'a brand new passphrase', confirm: 'a brand new passphrase' })
  t.equal(done.statusCode, 200)
  t.match(done.body, /Password changed/)

  const again = await fresh.post(`${ISSUER}/password/reset`, { ...hiddenFields(form.body), password: 'another new passphrase', confirm: 'another new passphrase' })
  t.equal(again.statusCode, 400, 'the link works once')
  t.match(again.body, /This link cannot be used/)
  t.equal((await fresh.get(link)).statusCode, 400)

  const old = await postForm(app, '/token', { grant_type: 'password', username: 'rita', password }, { authorization: client.basic })
  t.equal(old.statusCode, 400, 'the old password is refused')
  await passwordGrant(app, client, 'rita', 'a brand new passphrase')
  const refreshed = await refreshGrant(app, client, tokens.refresh_token)
  t.equal(refreshed.json().error, 'invalid_grant', 'the refresh family from before the reset is revoked')
  const sso = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  t.match(sso.res.body, /<h1>Sign in<\/h1>/, 'the SSO session from before the reset is over')
  const fresher = await app.usersRepository.findById(user.id)
  t.ok(fresher?.emailVerifiedAt, 'following the link verified the address')
  const reset = (await auditTypes(app)).find((e) => e.type === 'password_reset')
  t.match(reset, { subject: user.id, detail: { via: 'email_link', sessions_ended: 1, refresh_families_revoked: 1 } })
})

t.test('no enumeration: an unknown address gets the same page, and no mail', async (t) => {
  const { app } = await setup(t)
  await createUser(app, 'kim')
  const before = smtp.received.length
  const known = await submit(new Browser(app), `${ISSUER}/password/forgot`, { email: 'kim@example.com' })
  const unknown = await submit(new Browser(app), `${ISSUER}/password/forgot`, { email: 'nobody@example.com' })
  t.equal(known.statusCode, unknown.statusCode)
  const strip = (body: string) => body.replace(/kim@example\.com|nobody@example\.com/g, 'ADDRESS')
  t.equal(strip(known.body), strip(unknown.body), 'byte for byte the same page but for the address typed')
  await smtp.waitFor((m) => /kim@example\.com/.test(m.to))
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(smtp.received.slice(before).filter((m) => /nobody/.test(m.to)).length, 0, 'nothing to the unknown address')
  const bad = await submit(new Browser(app), `${ISSUER}/password/forgot`, { email: 'not an address' })
  t.equal(bad.statusCode, 400)
  t.match(bad.body, /Enter a valid email address/)
  const forged = await postForm(app, '/password/forgot', { email: 'kim@example.com', csrf: 'x' })
  t.equal(forged.statusCode, 403, 'a form without the browser\'s CSRF token is refused')
})

t.test('rate limits: mails per address are capped silently; the form per IP answers 429', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_ACCOUNT_MAX: '5' })
  await createUser(app, 'lou')
  const before = smtp.received.filter((m) => /lou@example\.com/.test(m.to)).length
  const browser = new Browser(app)
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await submit(browser, `${ISSUER}/password/forgot`, { email: 'lou@example.com' })).statusCode)
  t.same(statuses, [200, 200, 200, 200, 200], 'the same answer past the per-address cap')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(smtp.received.filter((m) => /lou@example\.com/.test(m.to)).length - before, 3, 'three mails per address and hour')
  const limited = await submit(browser, `${ISSUER}/password/forgot`, { email: 'lou@example.com' })
  t.equal(limited.statusCode, 429)
  t.match(limited.headers['content-type'], /text\/html/)
  t.ok(limited.headers['retry-after'])
  const events = (await app.auditStore.list({ limit: 100 })).filter((e) => e.type === 'password_reset_requested')
  t.same(events.map((e) => e.detail), [...Array(2).fill({ known: true, sent: false }), ...Array(3).fill({ known: true, sent: true })])
})

t.test('invitations: admin-created link, single use, fixed address; sign-up closed otherwise', async (t) => {
  const { app } = await setup(t, { SIGNUP: 'invite' })
  const refused = await app.inject({ url: '/signup' })
  t.equal(refused.statusCode, 403, 'no open form under SIGNUP=invite')
  const invite = await app.accounts.invite('Newbie@Example.com', ['read'], { issuer: ISSUER, locale: 'de', actor: 'cli' })
  const mail = await smtp.waitFor((m) => /newbie@example\.com/.test(m.to))
  t.match(mail.subject, /Einladung zu Stamp/, 'in the language it was created with')
  const link = linkIn(mail, `${ISSUER}/signup?invite=`)
  t.equal(link, invite.url)
  const browser = new Browser(app)
  const page = await browser.get(link)
  t.match(page.body, /newbie@example\.com/)
  t.notMatch(page.body, /name="email"/, 'the address is the invited one')
  const done = await browser.post(`${ISSUER}/signup`, { ...hiddenFields(page.body), username: 'newbie', password: 'a long enough passphrase' })
  t.equal(done.statusCode, 201)
  t.match(done.body, /Account created/)
  const user = await app.usersRepository.findByUsername('newbie')
  t.equal(user?.email, 'newbie@example.com')
  t.same(user?.scopes, ['read'])
  t.ok(user?.emailVerifiedAt, 'the invitation proved the address')
  const reuse = await browser.post(`${ISSUER}/signup`, { ...hiddenFields(page.body), username: 'second', password: 'a long enough passphrase' })
  t.equal(reuse.statusCode, 400, 'an invitation works once')
  t.notOk(await app.usersRepository.findByUsername('second'))
  const events = await auditTypes(app)
  t.match(events.find((e) => e.type === 'user_signed_up'), { subject: user!.id, detail: { via: 'invite' } })
  t.ok(events.find((e) => e.type === 'invite_created'))
})

t.test('open sign-up: verified email before the first sign-in; an address in use is not revealed', async (t) => {
  const { app, client } = await setup(t, { SIGNUP: 'open' })
  const browser = new Browser(app)
  const login = await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))
  const signupHref = /<a href="([^"]*\/signup\?[^"]*)">Create an account<\/a>/.exec(login.res.body)?.[1]
  t.ok(signupHref, 'the login page offers sign-up')
  const taken = await createUser(app, 'existing')
  const created = await submit(browser, signupHref!.replace(/&amp;/g, '&'), { username: 'sam', email: 'sam@example.com', password: 'a long enough passphrase' })
  t.equal(created.statusCode, 200)
  t.match(created.body, /We have sent a link to sam@example\.com/)
  const inUse = await submit(browser, signupHref!.replace(/&amp;/g, '&'), { username: 'other', email: taken.user.email!, password: 'a long enough passphrase' })
  t.equal(inUse.statusCode, 200)
  t.equal(inUse.body.replace(taken.user.email!, 'X'), created.body.replace('sam@example.com', 'X'), 'an address in use: the same page')
  const notice = await smtp.waitFor((m) => m.to.includes(taken.user.email!))
  t.match(notice.subject, /Sign-up attempt/)
  const sameName = await submit(browser, `${ISSUER}/signup`, { username: 'SAM', email: 'sam2@example.com', password: 'a long enough passphrase' })
  t.equal(sameName.statusCode, 409)
  t.match(sameName.body, /This username is taken/)

  const signIn = await browser.signIn((await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))).res, 'sam', 'a long enough passphrase')
  t.equal(signIn.res.statusCode, 403, 'no sign-in before the address is verified')
  t.match(signIn.res.body, /Confirm your email address before you sign in/)
  const grant = await postForm(app, '/token', { grant_type: 'password', username: 'sam', password: 'a long enough passphrase' }, { authorization: client.basic })
  t.equal(grant.statusCode, 400, 'nor by the password grant')

  const mail = await smtp.waitFor((m) => /sam@example\.com/.test(m.to) && /Confirm your email/.test(m.subject))
  const link = linkIn(mail, `${ISSUER}/email/verify?token=`)
  const page = await browser.get(link)
  t.match(page.body, /Confirm that <strong>sam@example\.com<\/strong> is your address/)
  const verified = await browser.post(`${ISSUER}/email/verify`, hiddenFields(page.body))
  t.match(verified.body, /Email address confirmed/)
  t.equal((await browser.post(`${ISSUER}/email/verify`, hiddenFields(page.body))).statusCode, 400, 'single use')
  const after = await browser.signIn((await browser.follow(authorizeURL({ client_id: client.client.id, redirect_uri: CB, response_type: 'code', scope: 'openid' }))).res, 'sam', 'a long enough passphrase')
  t.ok(after.location?.searchParams.get('code'), 'signed in once verified')
  const types = (await app.auditStore.list({ limit: 100 })).map((e) => e.type)
  for (const type of ['user_signed_up', 'signup_refused', 'email_verification_sent', 'email_verified']) t.ok(types.includes(type as never), type)
})

t.test('without SMTP_URL: mails become .eml files in the outbox, with a warning and nothing of them in the log', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const outbox = join(mkdtempSync(join(tmpdir(), 'stamp-outbox-')), 'outbox')
  const app = await build(t, { loggerInstance: pino(loggerOptions('trace'), sink), env: { MAIL_OUTBOX_DIR: outbox } })
  await createUser(app, 'olga')
  t.ok(lines.some((l) => /SMTP_URL is unset/.test(l) && l.includes(outbox)), 'a warning at boot naming the directory')
  const res = await submit(new Browser(app), `${ISSUER}/password/forgot`, { email: 'olga@example.com' })
  t.equal(res.statusCode, 200)
  await app.mailQueue.drain()
  const files = readdirSync(outbox)
  t.equal(files.length, 1)
  t.match(files[0], /\.eml$/)
  t.equal(statSync(join(outbox, files[0])).mode & 0o777, 0o600, 'readable by the service user only')
  const eml = await simpleParser(readFileSync(join(outbox, files[0])))
  t.equal(eml.subject, 'Reset your Stamp password')
  const token = /password\/reset\?token=([A-Za-z0-9_-]{43})/.exec(eml.text ?? '')?.[1]
  t.ok(token, 'the file holds the link')
  const log = lines.join('')
  t.notOk(log.includes(token!), 'the link never reaches the log')
  t.notOk(log.includes('olga@example.com'), 'nor the address')
  t.notMatch(log, /Reset your Stamp password/, 'nor the mail')
  t.match(log, /"event":"mail_sent","kind":"reset_password","transport":"outbox"/)
})
