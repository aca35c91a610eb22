/**
 * Outgoing mail: SMTP through nodemailer when `SMTP_URL` is set, otherwise `.eml` files in an
 * outbox directory (`MAIL_OUTBOX_DIR`, default `data/outbox`), so a fresh install can follow a
 * reset link without a mail server. Either way the message never reaches the log: a mail carries
 * a live single-use link, a credential.
 *
 * Outbox files are written with mode 0600 in a 0700 directory for the same reason.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import nodemailer from 'nodemailer'

export interface Mail {
  to: string
  subject: string
  text: string
  html: string
}

export interface MailTransport {
  /** `smtp` or `outbox` (for logs and /readyz-style reports; never the URL, it may hold a password). */
  readonly kind: 'smtp' | 'outbox'
  send(mail: Mail): Promise<void>
  close(): void
}

export interface MailTransportOptions {
  smtpUrl?: string
  from: string
  outboxDir: string
  /** Per-connection timeouts of the SMTP client, milliseconds. */
  timeoutMs?: number
}

export function createMailTransport (options: MailTransportOptions): MailTransport {
  const headers = { 'auto-submitted': 'auto-generated' } // RFC 3834 §5: no auto-replies to these
  if (options.smtpUrl) {
    const timeout = options.timeoutMs ?? 10_000
    // nodemailer's SMTP transport reads `url` like a connection string, the rest overrides it.
    const transporter = nodemailer.createTransport({
      url: options.smtpUrl, connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout * 3,
    } as Parameters<typeof nodemailer.createTransport>[0], { from: options.from, headers })
    return {
      kind: 'smtp',
      async send (mail) { await transporter.sendMail(mail) },
      close: () => transporter.close(),
    }
  }
  const stream = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }, { from: options.from, headers })
  return {
    kind: 'outbox',
    async send (mail) {
      const info = await stream.sendMail(mail)
      await mkdir(options.outboxDir, { recursive: true, mode: 0o700 })
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`
      await writeFile(join(options.outboxDir, name), info.message as Buffer, { mode: 0o600, flag: 'wx' })
    },
    close: () => stream.close(),
  }
}
