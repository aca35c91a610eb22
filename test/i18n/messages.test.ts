import t from 'tap'
import { catalogue, LOCALES, messageKeys, placeholders, t as translate, tn } from '../../src/i18n/messages.js'
import { fromAcceptLanguage, fromUILocales, negotiateLocale } from '../../src/i18n/negotiate.js'

t.test('every catalogue has exactly the English keys, with the same placeholders', async (t) => {
  const keys = messageKeys()
  t.ok(keys.length > 50)
  for (const locale of LOCALES) {
    const messages = catalogue(locale)
    t.same(Object.keys(messages).sort(), [...keys].sort(), `${locale}: same keys`)
    for (const key of keys) {
      t.same(placeholders(messages[key]).sort(), placeholders(catalogue('en')[key]).sort(), `${locale} ${key}: same placeholders`)
      t.ok(messages[key].trim().length > 0, `${locale} ${key}: not empty`)
    }
  }
})

t.test('German is translated, not copied', async (t) => {
  const same = messageKeys().filter((k) => catalogue('de')[k] === catalogue('en')[k] && !/^\{[a-z]+\}( · \{[a-z]+\})?$/.test(catalogue('en')[k]))
  t.same(same, [], 'no German message is the English text')
})

t.test('lookup fills placeholders; plurals follow the locale rules', async (t) => {
  t.equal(translate('en', 'login.subtitle', { client: 'Shop' }), 'to continue to Shop')
  t.equal(translate('de', 'login.subtitle', { client: 'Shop' }), 'um mit Shop fortzufahren')
  t.equal(tn('en', 'login.error.throttled', 1), 'Too many attempts; try again in 1 second.')
  t.equal(tn('en', 'login.error.throttled', 30), 'Too many attempts; try again in 30 seconds.')
  t.equal(tn('de', 'login.error.throttled', 1), 'Zu viele Versuche; versuchen Sie es in 1 Sekunde erneut.')
  t.equal(translate('en', 'login.subtitle'), 'to continue to {client}', 'a missing value stays visible')
})

t.test('ui_locales (OIDC Core §3.1.2.1): the first supported tag, by primary subtag', async (t) => {
  t.equal(fromUILocales('de'), 'de')
  t.equal(fromUILocales('fr-CA de-CH en'), 'de')
  t.equal(fromUILocales('fr ja'), undefined)
  t.equal(fromUILocales('<script> de'), 'de', 'a malformed tag is skipped')
  t.equal(fromUILocales(''), undefined)
})

t.test('Accept-Language (RFC 9110 §12.5.4): highest q first, q=0 refused', async (t) => {
  t.equal(fromAcceptLanguage('de-DE,de;q=0.9,en;q=0.8'), 'de')
  t.equal(fromAcceptLanguage('en;q=0.5, de;q=0.9'), 'de')
  t.equal(fromAcceptLanguage('fr, en;q=0.1'), 'en')
  t.equal(fromAcceptLanguage('de;q=0, fr'), undefined)
  t.equal(fromAcceptLanguage('*'), undefined)
  t.equal(fromAcceptLanguage('en;q=abc, de;q=0.4'), 'en', 'an invalid q is the default 1')
})

t.test('ui_locales wins over Accept-Language; English is the fallback', async (t) => {
  t.equal(negotiateLocale('de', 'en'), 'de')
  t.equal(negotiateLocale('fr', 'de'), 'de')
  t.equal(negotiateLocale('fr', 'ja'), 'en')
  t.equal(negotiateLocale(undefined, undefined), 'en')
})
