/**
 * `stamp registration token create [--expires-in DURATION] [--max-uses N] [--json]` — an RFC 7591
 * initial access token for /register (REGISTRATION=token, the default). Printed once; only its
 * hash is stored. DURATION is seconds, or a number with s, m, h or d (`7d`).
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { createRegistrationToken } from '../domain/registration_tokens.js'
import { withContext } from './context.js'
import { print, UsageError } from './output.js'

const USAGE = 'usage: stamp registration token create [--expires-in DURATION] [--max-uses N] [--json]'
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

export function parseDuration (value: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim())
  if (!match || Number(match[1]) === 0) throw new UsageError('--expires-in must be a positive duration: seconds, or a number with s, m, h or d (e.g. 7d)')
  return Number(match[1]) * UNITS[match[2] || 's']
}

export async function registrationCommand (args: string[], config: Config): Promise<void> {
  const [noun, action, ...rest] = args
  if (noun !== 'token' || action !== 'create') throw new UsageError(USAGE)
  const { values } = parseArgs({ args: rest, options: { 'expires-in': { type: 'string' }, 'max-uses': { type: 'string' }, json: { type: 'boolean', default: false } }, strict: true })
  const expiresInSeconds = values['expires-in'] === undefined ? undefined : parseDuration(values['expires-in'])
  let maxUses: number | undefined
  if (values['max-uses'] !== undefined) {
    maxUses = Number(values['max-uses'])
    if (!Number.isInteger(maxUses) || maxUses < 1 || maxUses > 1_000_000) throw new UsageError('--max-uses must be an integer from 1 to 1000000')
  }
  const created = await withContext(config, async (ctx) => {
    const token = await createRegistrationToken(ctx.registrationTokens, { expiresInSeconds, maxUses })
    await ctx.audit.record({ type: 'registration_token_created', actor: 'cli', subject: token.id, detail: { expires_at: token.expiresAt?.toISOString() ?? null, max_uses: token.maxUses } })
    return token
  })
  const note = config.registration === 'token' ? '' : `\n(note: REGISTRATION=${config.registration}, so /register does not ask for this token)`
  print(values.json, { id: created.id, token: created.token, expires_at: created.expiresAt, max_uses: created.maxUses },
    `initial access token: ${created.token}\n(shown once; send it as "Authorization: Bearer …" to /register)` +
    `\nexpires: ${created.expiresAt?.toISOString() ?? 'never'}; uses: ${created.maxUses ?? 'unlimited'}${note}`)
}
