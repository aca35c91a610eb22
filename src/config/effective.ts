/**
 * The effective configuration, as the admin API shows it: every environment setting with the
 * value in force (given, or its default), secrets masked.
 *
 * A setting is a secret when its name says so (…_TOKEN, …_SECRET, …_PASSWORD, …ENCRYPTION_KEY,
 * …_PRIVATE_KEY): its value is never shown, only whether it is set. A URL setting keeps its
 * host and path but loses any password (`postgresql://stamp:********@db/stamp`), so settings
 * added later are masked without anyone remembering to list them.
 *
 * @module
 */
import { envSchemaDefinition, type Config } from './env.js'

export const MASK = '********'

const SECRET_NAME = /(_TOKEN|_SECRET|_PASSWORD|ENCRYPTION_KEY|_PRIVATE_KEY)$/

export interface EffectiveSetting {
  name: string
  value: string | number | boolean | null
  source: 'environment' | 'default' | 'unset' | 'derived'
  masked: boolean
  description: string
}

/** A URL's password replaced by the mask; other values unchanged. */
function withoutPassword (value: string): { value: string, masked: boolean } {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || !URL.canParse(value)) return { value, masked: false }
  const url = new URL(value)
  if (!url.password) return { value, masked: false }
  url.password = MASK
  return { value: url.href, masked: true }
}

export function effectiveSettings (config: Config): EffectiveSetting[] {
  const values = config.settings?.values ?? {}
  const given = config.settings?.given ?? new Set<string>()
  return Object.entries(envSchemaDefinition.properties).map(([name, definition]): EffectiveSetting => {
    const description = definition.description
    const raw = values[name]
    if (name === 'ISSUER' && raw === undefined) {
      return { name, value: config.issuerFromProxy ? null : config.issuer, source: 'derived', masked: false, description }
    }
    const source = given.has(name) ? 'environment' : raw === undefined ? 'unset' : 'default'
    if (raw === undefined || raw === null) return { name, value: null, source, masked: false, description }
    if (SECRET_NAME.test(name)) return { name, value: MASK, source, masked: true, description }
    if (typeof raw === 'string') return { name, ...withoutPassword(raw), source, description }
    return { name, value: raw as number | boolean, source, masked: false, description }
  })
}
