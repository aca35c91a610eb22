/**
 * HTML building blocks of the hosted pages: a tagged template that escapes every interpolation,
 * and localized messages rendered with their catalogue text escaped too.
 *
 * @module
 */
import { messageParts, pluralKey, template, type Locale, type MessageKey, type PluralKey } from '../../i18n/messages.js'

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHTML (value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c])
}

/** Markup that is already safe: interpolated as is. */
export class SafeHTML {
  readonly html: string
  constructor (html: string) { this.html = html }
  toString (): string { return this.html }
}

function part (value: unknown): string {
  if (Array.isArray(value)) return value.map(part).join('')
  return value instanceof SafeHTML ? value.html : escapeHTML(value)
}

/** Tagged template that escapes every interpolation unless it is already {@link SafeHTML}; arrays are joined. */
export function html (strings: TemplateStringsArray, ...values: unknown[]): SafeHTML {
  let out = strings[0]
  values.forEach((value, i) => { out += part(value) + strings[i + 1] })
  return new SafeHTML(out)
}

export type HTMLValue = string | number | SafeHTML

/**
 * The message `key` in `locale` as markup: the catalogue text is escaped, and so is each value
 * unless it is {@link SafeHTML} (`{client}` → `<strong>…</strong>`).
 */
export function msg (locale: Locale, key: MessageKey, vars: Record<string, HTMLValue> = {}): SafeHTML {
  return new SafeHTML(messageParts(template(locale, key))
    .map((p) => ('text' in p ? escapeHTML(p.text) : p.name in vars ? part(vars[p.name]) : escapeHTML(`{${p.name}}`)))
    .join(''))
}

/** A plural message as markup (`count` picks the form and fills `{count}`). */
export function msgn (locale: Locale, key: PluralKey, count: number, vars: Record<string, HTMLValue> = {}): SafeHTML {
  return msg(locale, pluralKey(locale, key, count), { ...vars, count })
}

/** `<strong>value</strong>`, escaped. */
export function strong (value: string): SafeHTML {
  return html`<strong>${value}</strong>`
}
