/**
 * `stamp user invite` and `stamp user reset-email` as real processes, mailing through a real
 * SMTP server process (and printing the invitation link).
 */
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase } from '../helper.js'
import { generateKEKValue } from '../../src/crypto/kek.js'
import { stamp } from '../fixtures/process.js'
import { linkIn, startSMTPServer } from '../fixtures/smtp_server.js'

t.test('stamp user invite / reset-email', async (t) => {
  const smtp = await startSMTPServer(t)
  const url = await createTestDatabase(t)
  const env = {
    DATABASE_URL: url, KEY_ENCRYPTION_KEY: generateKEKValue(), KEYS_DIR: mkdtempSync(join(tmpdir(), 'stamp-cli-')), LOG_LEVEL: 'warn',
    SMTP_URL: smtp.url, ISSUER: 'https://id.example', BRAND_NAME: 'Acme ID',
  }
  const invite = await stamp(['user', 'invite', '--email', 'wes@example.com', '--scope', 'read', '--locale', 'de', '--json'], env)
  t.equal(invite.code, 0, invite.stderr)
  const out = JSON.parse(invite.stdout)
  t.match(out, { email: 'wes@example.com', scopes: ['read'], invite_url: /^https:\/\/id\.example\/signup\?invite=[A-Za-z0-9_-]{43}$/ })
  const mail = await smtp.waitFor((m) => /wes@example\.com/.test(m.to))
  t.equal(mail.subject, 'Einladung zu Acme ID')
  t.equal(linkIn(mail, 'https://id.example/signup?invite='), out.invite_url)
  t.match(mail.headers.get('from'), { text: /"Acme ID" <no-reply@id\.example>/ })

  const created = await stamp(['user', 'create', '--username', 'xena', '--password', 'a long enough password', '--email', 'xena@example.com'], env)
  t.equal(created.code, 0, created.stderr)
  const reset = await stamp(['user', 'reset-email', '--username', 'xena', '--json'], env)
  t.equal(reset.code, 0, reset.stderr)
  t.same(JSON.parse(reset.stdout).sent, true)
  const resetMail = await smtp.waitFor((m) => /xena@example\.com/.test(m.to))
  t.match(resetMail.text, /https:\/\/id\.example\/password\/reset\?token=[A-Za-z0-9_-]{43}/)
  const unknown = await stamp(['user', 'reset-email', '--username', 'nobody'], env)
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /no user nobody/)
  const usage = await stamp(['user', 'invite'], env)
  t.equal(usage.code, 2)
})
