/**
 * Which catalogue a page is rendered in: the `ui_locales` request parameter (OIDC Core §3.1.2.1:
 * "End-User's preferred languages and scripts for the user interface, represented as a
 * space-separated list of BCP47 [RFC5646] language tag values, ordered by preference"), then the
 * browser's `Accept-Language` (RFC 9110 §12.5.4, with q-values), then English.
 *
 * A tag matches a catalogue by its primary language subtag (`de-CH` → `de`), the "lookup"
 * scheme of RFC 4647 §3.4 cut down to the one level the catalogues have.
 *
 * @module
 */
import { DEFAULT_LOCALE, isLocale, type Locale } from './messages.js'

/** RFC 5646 language tags are ASCII letters, digits and hyphens; anything else is ignored. */
const TAG = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/

function match (tag: string): Locale | undefined {
  if (!TAG.test(tag)) return undefined
  const primary = tag.split('-')[0].toLowerCase()
  return isLocale(primary) ? primary : undefined
}

/** The first supported locale of a `ui_locales` value, if any. */
export function fromUILocales (value: string | undefined): Locale | undefined {
  if (!value) return undefined
  for (const tag of value.split(' ').slice(0, 20)) {
    const locale = match(tag)
    if (locale) return locale
  }
  return undefined
}

/** The most preferred supported locale of an `Accept-Language` header, if any (q=0 means "not acceptable"). */
export function fromAcceptLanguage (header: string | undefined): Locale | undefined {
  if (!header) return undefined
  const ranges = header.slice(0, 1000).split(',').slice(0, 50).map((item, index) => {
    const [tag, ...params] = item.trim().split(';')
    let q = 1
    for (const param of params) {
      const m = /^\s*q\s*=\s*([01](\.\d{0,3})?)\s*$/i.exec(param)
      if (m) q = Number(m[1])
    }
    return { tag: tag.trim(), q, index }
  })
  ranges.sort((a, b) => b.q - a.q || a.index - b.index)
  for (const { tag, q } of ranges) {
    if (q <= 0) continue
    const locale = match(tag)
    if (locale) return locale
  }
  return undefined
}

export function negotiateLocale (uiLocales: string | undefined, acceptLanguage: string | undefined): Locale {
  return fromUILocales(uiLocales) ?? fromAcceptLanguage(acceptLanguage) ?? DEFAULT_LOCALE
}
