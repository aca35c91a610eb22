/**
 * Mail delivery in the background: a request that sends mail answers before the SMTP exchange,
 * so its response time does not tell whether a mail went out (no enumeration by timing), and a
 * slow mail server does not hold a page. Deliveries in flight are awaited at shutdown (`drain`).
 *
 * Log lines name the kind of mail and the outcome, never the address, subject or body.
 *
 * @module
 */
import type { Locale } from '../i18n/messages.js'
import type { MailOutbox } from '../domain/accounts.js'
import { composeMail, type MailKind } from './templates.js'
import type { MailTransport } from './transport.js'

interface Log {
  info(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export class MailQueue implements MailOutbox {
  readonly #transport: MailTransport
  readonly #productName: string
  readonly #log: Log
  readonly #pending = new Set<Promise<void>>()

  constructor (transport: MailTransport, productName: string, log: Log) {
    this.#transport = transport
    this.#productName = productName
    this.#log = log
  }

  queue (kind: MailKind, locale: Locale, to: string, values: { link: string, validFor: number, username?: string, provider?: string }): void {
    const mail = composeMail(kind, locale, to, { ...values, productName: this.#productName })
    const delivery = this.#transport.send(mail).then(
      () => this.#log.info({ event: 'mail_sent', kind, transport: this.#transport.kind }, 'mail sent'),
      (err: NodeJS.ErrnoException & { responseCode?: number }) => this.#log.error({
        event: 'mail_failed', kind, transport: this.#transport.kind, code: err.code, response_code: err.responseCode,
      }, 'mail could not be delivered'),
    ).finally(() => this.#pending.delete(delivery))
    this.#pending.add(delivery)
  }

  /** Resolves when every queued mail was delivered or failed. */
  async drain (): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending])
  }

  close (): void {
    this.#transport.close()
  }
}
