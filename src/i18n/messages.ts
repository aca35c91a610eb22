/**
 * Message catalogues of the hosted pages and mails, one JSON file per locale in `messages/`.
 *
 * English (`en.json`) defines the keys: {@link MessageKey} is derived from it, so a lookup of a
 * key that does not exist fails to compile, and every other catalogue is typed as having all of
 * them. Placeholders are `{name}`; a plural message has the keys `<base>.one` and `<base>.other`
 * (more as the locale's CLDR plural rules need), chosen with `Intl.PluralRules` for `{count}`.
 *
 * The lookup returns plain text: whoever renders it escapes it (views.ts renders through
 * {@link messageParts}, which keeps text and values apart, so a value can be markup while the
 * catalogue text is always escaped).
 *
 * @module
 */
import en from './messages/en.json' with { type: 'json' }
import de from './messages/de.json' with { type: 'json' }

export type MessageKey = keyof typeof en

/** The locales of the catalogues, in the order they are advertised (`ui_locales_supported`). */
export const LOCALES = ['en', 'de'] as const
export type Locale = typeof LOCALES[number]
export const DEFAULT_LOCALE: Locale = 'en'

const CATALOGUES: Record<Locale, Record<MessageKey, string>> = { en, de }

export function isLocale (value: string): value is Locale {
  return (LOCALES as readonly string[]).includes(value)
}

/** Keys that exist as `<base>.other`: the plural messages, looked up with {@link tn}. */
export type PluralKey = { [K in MessageKey]: K extends `${infer Base}.other` ? Base : never }[MessageKey]

export type MessageValue = string | number

/** One message's template; a key missing from a catalogue (cannot compile, but JSON can be edited) falls back to English. */
export function template (locale: Locale, key: MessageKey): string {
  return CATALOGUES[locale][key] ?? CATALOGUES[DEFAULT_LOCALE][key] ?? key
}

/** The key of a plural message for `count` in `locale`. */
export function pluralKey (locale: Locale, key: PluralKey, count: number): MessageKey {
  const category = new Intl.PluralRules(locale).select(count)
  const candidate = `${key}.${category}`
  return (candidate in CATALOGUES[DEFAULT_LOCALE] ? candidate : `${key}.other`) as MessageKey
}

export type MessagePart = { text: string } | { name: string }

/** A template split into literal text and `{name}` placeholders. */
export function messageParts (source: string): MessagePart[] {
  const parts: MessagePart[] = []
  let last = 0
  for (const match of source.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
    if (match.index > last) parts.push({ text: source.slice(last, match.index) })
    parts.push({ name: match[1] })
    last = match.index + match[0].length
  }
  if (last < source.length) parts.push({ text: source.slice(last) })
  return parts
}

/** The placeholder names a template uses (catalogue tests compare them across locales). */
export function placeholders (source: string): string[] {
  return messageParts(source).flatMap((p) => ('name' in p ? [p.name] : []))
}

function fill (source: string, vars: Record<string, MessageValue>): string {
  return messageParts(source).map((p) => ('text' in p ? p.text : String(vars[p.name] ?? `{${p.name}}`))).join('')
}

/** The message `key` in `locale` as plain text, placeholders filled from `vars`. */
export function t (locale: Locale, key: MessageKey, vars: Record<string, MessageValue> = {}): string {
  return fill(template(locale, key), vars)
}

/** A plural message: `count` picks the form and fills `{count}`. */
export function tn (locale: Locale, key: PluralKey, count: number, vars: Record<string, MessageValue> = {}): string {
  return t(locale, pluralKey(locale, key, count), { ...vars, count })
}

/** Every key of the English catalogue (tests check the others against it). */
export function messageKeys (): MessageKey[] {
  return Object.keys(CATALOGUES[DEFAULT_LOCALE]) as MessageKey[]
}

/** The raw catalogue of a locale (tests). */
export function catalogue (locale: Locale): Readonly<Record<string, string>> {
  return CATALOGUES[locale]
}
