/**
 * The mails Stamp sends, in the recipient's language (message catalogues, `mail.*` keys): a
 * plain-text part and an HTML part with the same words. Values are escaped in the HTML part; the
 * link is the only call to action, shown in full so it can be copied.
 *
 * @module
 */
import { t, tn, type Locale, type MessageKey, type PluralKey } from '../i18n/messages.js'
import type { Mail } from './transport.js'

export type MailKind = 'reset_password' | 'verify_email' | 'invite' | 'signup_existing' | 'link_identity'

export interface MailValues {
  productName: string
  /** The link to follow (for signup_existing: the page to request a reset). */
  link: string
  /** Minutes (or, for invitations, days) the link stays valid. */
  validFor: number
  username?: string
  /** link_identity: the upstream provider's display name. */
  provider?: string
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escape = (value: string) => value.replace(/[&<>"']/g, (c) => ENTITIES[c])

const KEYS: Record<MailKind, { subject: MessageKey, intro: MessageKey, action: MessageKey, validity?: PluralKey, ignore: MessageKey }> = {
  reset_password: { subject: 'mail.reset.subject', intro: 'mail.reset.intro', action: 'mail.reset.action', validity: 'mail.validMinutes', ignore: 'mail.reset.ignore' },
  verify_email: { subject: 'mail.verify.subject', intro: 'mail.verify.intro', action: 'mail.verify.action', validity: 'mail.validMinutes', ignore: 'mail.verify.ignore' },
  invite: { subject: 'mail.invite.subject', intro: 'mail.invite.intro', action: 'mail.invite.action', validity: 'mail.validDays', ignore: 'mail.invite.ignore' },
  signup_existing: { subject: 'mail.existing.subject', intro: 'mail.existing.intro', action: 'mail.existing.action', ignore: 'mail.existing.ignore' },
  link_identity: { subject: 'mail.link.subject', intro: 'mail.link.intro', action: 'mail.link.action', validity: 'mail.validMinutes', ignore: 'mail.link.ignore' },
}

export function composeMail (kind: MailKind, locale: Locale, to: string, values: MailValues): Mail {
  const keys = KEYS[kind]
  const vars = { product: values.productName, count: values.validFor, username: values.username ?? '', provider: values.provider ?? '' }
  const greeting = values.username ? t(locale, 'mail.greeting', vars) : t(locale, 'mail.greetingAnonymous')
  const paragraphs = [t(locale, keys.intro, vars), t(locale, keys.action, vars)]
  const validity = keys.validity ? tn(locale, keys.validity, values.validFor) : ''
  const ignore = t(locale, keys.ignore, vars)
  const signature = t(locale, 'mail.signature', vars)
  const text = [greeting, '', ...paragraphs, '', values.link, '', ...(validity ? [validity] : []), ignore, '', signature, ''].join('\n')
  const html = `<!doctype html>\n<html lang="${locale}"><head><meta charset="utf-8"><title>${escape(t(locale, keys.subject, vars))}</title></head><body>\n` +
    `<p>${escape(greeting)}</p>\n${paragraphs.map((p) => `<p>${escape(p)}</p>`).join('\n')}\n` +
    `<p><a href="${escape(values.link)}">${escape(values.link)}</a></p>\n` +
    (validity ? `<p>${escape(validity)}</p>\n` : '') + `<p>${escape(ignore)}</p>\n<p>${escape(signature)}</p>\n</body></html>\n`
  return { to, subject: t(locale, keys.subject, vars), text, html }
}
