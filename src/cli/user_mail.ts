/**
 * `stamp user invite --email E [--scope "a b"] [--locale en|de] [--json]`: an invitation to sign
 * up (SIGNUP=invite or open), mailed to E; prints the single-use link too.
 *
 * `stamp user reset-email --username U [--locale en|de] [--json]`: mails U a password reset link.
 *
 * Both use the server's mail settings (SMTP_URL, else the outbox directory) and wait until the
 * mail is handed over.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import pino from 'pino'
import type { Config } from '../config/env.js'
import { withContext } from './context.js'
import { CommandError, print, UsageError } from './output.js'
import { Accounts, emailProblem } from '../domain/accounts.js'
import { isLocale, type Locale } from '../i18n/messages.js'
import { createMailTransport } from '../mail/transport.js'
import { MailQueue } from '../mail/outbox.js'
import { prismaAccountTokenStore } from '../storage/prisma/account_tokens.js'
import { USERNAME_FORMS } from '../domain/usernames.js'
import { loggerOptions } from '../logging.js'

export async function userMailCommand (action: 'invite' | 'reset-email', args: string[], config: Config): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      username: { type: 'string' },
      scope: { type: 'string', default: '' },
      locale: { type: 'string', default: 'en' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (!isLocale(values.locale)) throw new UsageError('--locale must be en or de')
  const locale: Locale = values.locale
  if (action === 'invite' && (!values.email || emailProblem(values.email))) throw new UsageError('usage: stamp user invite --email E [--scope "a b"] [--locale en|de] [--json]')
  if (action === 'reset-email' && !values.username) throw new UsageError('usage: stamp user reset-email --username U [--locale en|de] [--json]')

  // Logs go to stderr: stdout is reserved for the command's output (--json).
  const log = pino({ ...loggerOptions(config.logLevel === 'info' ? 'warn' : config.logLevel) }, pino.destination(2))
  const transport = createMailTransport({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, outboxDir: config.mail.outboxDir })
  if (transport.kind === 'outbox') log.warn({ outbox: config.mail.outboxDir }, 'SMTP_URL is unset: the mail is written as an .eml file to the outbox directory')
  const queue = new MailQueue(transport, config.brand.productName, log)
  try {
    await withContext(config, async (ctx) => {
      const accounts = new Accounts({ tokens: prismaAccountTokenStore(ctx.prisma, USERNAME_FORMS), users: ctx.users, outbox: queue, audit: ctx.audit, policy: config.policy.accounts })
      if (action === 'invite') {
        const scopes = [...new Set(values.scope.split(' ').filter(Boolean))]
        const invite = await accounts.invite(values.email!, scopes, { issuer: config.issuer, locale, actor: 'cli' })
        await queue.drain()
        print(values.json, { id: invite.id, email: values.email!.trim().toLowerCase(), scopes, expires_at: invite.expiresAt.toISOString(), invite_url: invite.url },
          `invited ${values.email} (link valid until ${invite.expiresAt.toISOString()}):\n${invite.url}`)
        return
      }
      const user = await ctx.users.findByUsername(values.username!)
      if (!user) throw new CommandError(`no user ${values.username}`)
      if (!user.email) throw new CommandError(`user ${user.username} has no email address`)
      if (user.disabled) throw new CommandError(`user ${user.username} is disabled`)
      const sent = await accounts.sendReset(user, { issuer: config.issuer, locale, actor: 'cli' })
      await queue.drain()
      if (!sent) throw new CommandError(`not sent: ${user.username} already got ${config.policy.accounts.mailsPerAddress} reset mails within the last ${config.policy.accounts.mailWindow} seconds`)
      print(values.json, { user_id: user.id, sent }, `reset link mailed to ${user.username}`)
    })
  } finally {
    queue.close()
  }
}
