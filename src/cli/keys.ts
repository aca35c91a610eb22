/**
 * `stamp keys list | rotate [--force] | revoke KID | rewrap` — the signing-key lifecycle, with
 * the same keyring the server uses.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import { writeFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config/env.js'
import { generateKEKValue, kekFromBase64url } from '../crypto/kek.js'
import { withContext } from './context.js'
import { print, readStdin, table, UsageError } from './output.js'

const USAGE = 'usage: stamp keys (list | rotate [--force] | revoke KID | rewrap [--new-kek-stdin]) [--json]'

export async function keysCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  const { values, positionals } = parseArgs({
    args: rest,
    options: { json: { type: 'boolean', default: false }, force: { type: 'boolean', default: false }, 'new-kek-stdin': { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  })
  const json = values.json
  switch (action) {
    case 'list':
      return withContext(config, async (ctx) => {
        await ctx.keyring() // creates the first active + next keys on a new database, as the server would
        const keys = (await ctx.keys.all()).map((k) => ({
          kid: k.kid, alg: k.alg, status: k.status, created: k.createdAt, activated: k.activatedAt, retire_after: k.retireAfter, retired: k.retiredAt,
        }))
        print(json, { keys }, table(keys, ['kid', 'alg', 'status', 'created', 'activated', 'retire_after', 'retired']))
      })
    case 'rotate':
      return withContext(config, async (ctx) => {
        const result = await (await ctx.keyring()).rotate({ force: values.force })
        await ctx.audit.record({ type: 'key_rotated', actor: 'cli', subject: result.active, detail: { ...result, force: values.force, reason: 'cli' } })
        print(json, result, `rotated: active ${result.active}, next ${result.next}, retiring ${result.retiring}`)
      })
    case 'revoke': {
      const kid = positionals[0]
      if (!kid) throw new UsageError('usage: stamp keys revoke KID')
      return withContext(config, async (ctx) => {
        const result = await (await ctx.keyring()).revoke(kid)
        await ctx.audit.record({ type: 'key_revoked', actor: 'cli', subject: result.revoked, detail: { refresh_families_revoked: result.refreshFamiliesRevoked, active: result.active } })
        print(json, result, `revoked ${result.revoked}; ${result.refreshFamiliesRevoked} refresh-token families revoked; active key ${result.active}`)
      })
    }
    case 'rewrap':
      return withContext(config, async (ctx) => {
        const value = values['new-kek-stdin'] ? (await readStdin()).trim() : generateKEKValue()
        const newKek = kekFromBase64url(value)
        const result = await (await ctx.keyring()).rewrap(newKek)
        let where: string
        if (config.keyEncryptionKey) {
          where = 'set KEY_ENCRYPTION_KEY to the new value and restart every instance'
        } else {
          // File-based KEK: replace keys/kek atomically, keeping the old one beside it.
          const path = join(config.keysDir, 'kek')
          renameSync(path, `${path}.old-${Date.now()}`)
          writeFileSync(`${path}.tmp`, value + '\n', { mode: 0o600 })
          renameSync(`${path}.tmp`, path)
          where = `new KEK written to ${path}; restart every instance`
        }
        const output = { rewrapped: result.rewrapped, other_secrets: result.others, kek_id: newKek.id, ...(config.keyEncryptionKey && !values['new-kek-stdin'] ? { key_encryption_key: value } : {}) }
        print(json, output, `re-sealed ${result.rewrapped} private keys and ${result.others} other secrets (TOTP, identity providers) under KEK ${newKek.id}; ${where}` +
          (output.key_encryption_key ? `\nKEY_ENCRYPTION_KEY=${value}` : ''))
      })
    default:
      throw new UsageError(USAGE)
  }
}
