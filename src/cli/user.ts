/**
 * `stamp user create --username U (--password P | --password-stdin) [--email E] [--scope "a b"] [--admin]`
 *
 * `--admin` grants the `stamp:admin` scope: with a first-party client allowed that scope, the
 * user can obtain admin API tokens (the bootstrap, see docs/admin.md). The password policy
 * (length, common-password list) applies as in the admin API.
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { withContext } from './context.js'
import { usernameProblem } from '../domain/usernames.js'
import { CommandError, print, readStdin, UsageError } from './output.js'
import { ADMIN_SCOPE } from '../schemas/admin.js'
import { factorSummary } from '../domain/second_factors.js'

const USAGE = 'usage: stamp user create --username U (--password P | --password-stdin) [--email E] [--scope "a b"] [--admin] [--json]\n' +
  '       stamp user factors USER [--json]            list passkeys, authenticator app, recovery codes\n' +
  '       stamp user reset-factors USER [--json]      remove all second factors (lost device)\n' +
  '       stamp user require-mfa USER [--off] [--json] require a second factor at sign-in (or not)\n' +
  '       stamp user identities USER [--json]         list linked upstream identity providers\n' +
  '       stamp user unlink USER PROVIDER|LINK_ID [--json] remove a linked upstream identity'

export async function userCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action === 'factors' || action === 'reset-factors' || action === 'require-mfa') return factorCommand(action, rest, config)
  if (action === 'identities' || action === 'unlink') return (await import('./user_identities.js')).userIdentitiesCommand(action, rest, config, USAGE)
  if (action === 'invite' || action === 'reset-email') return (await import('./user_mail.js')).userMailCommand(action, rest, config)
  if (action !== 'create') throw new UsageError(USAGE)
  const { values } = parseArgs({
    args: rest,
    options: {
      username: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      email: { type: 'string' },
      scope: { type: 'string', default: '' },
      admin: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (!values.username) throw new UsageError('--username is required')
  if ((values.password === undefined) === !values['password-stdin']) throw new UsageError('give exactly one of --password or --password-stdin')
  const password = values.password ?? await readStdin()
  const username = values.username
  const problem = usernameProblem(username)
  if (problem) throw new UsageError(problem)
  const scopes = [...new Set([...values.scope.split(' ').filter(Boolean), ...(values.admin ? [ADMIN_SCOPE] : [])])]
  await withContext(config, async (ctx) => {
    const violation = (await ctx.passwordPolicy()).violation(password, { username })
    if (violation) throw new UsageError(violation)
    if (await ctx.users.findByUsername(username)) throw new CommandError(`user ${username} already exists`)
    const passwordHash = await (await ctx.passwords()).hash(password)
    const user = await ctx.users.create({ username, email: values.email ?? null, passwordHash, scopes }).catch((err: unknown) => {
      // Another process created it between the check and the insert.
      if ((err as { code?: string }).code === 'P2002') throw new CommandError(`user ${username} already exists`)
      throw err
    })
    await ctx.audit.record({ type: 'user_created', actor: 'cli', subject: user.id, detail: { scopes } })
    print(values.json, { id: user.id, username: user.username, email: user.email, scopes: user.scopes }, `created user ${user.username} (${user.id})`)
  })
}

/** `stamp user factors|reset-factors|require-mfa USER`: USER is a username or a user id. */
async function factorCommand (action: 'factors' | 'reset-factors' | 'require-mfa', args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { off: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  })
  if (positionals.length !== 1) throw new UsageError(USAGE)
  if (values.off && action !== 'require-mfa') throw new UsageError('--off goes with require-mfa')
  await withContext(config, async (ctx) => {
    const name = positionals[0]
    const user = (/^[0-9a-f-]{36}$/i.test(name) ? await ctx.users.findById(name) : null) ?? await ctx.users.findByUsername(name)
    if (!user) throw new CommandError(`no user ${name}`)
    if (action === 'factors') {
      const summary = await factorSummary(ctx.factors, user.id)
      const passkeys = summary.passkeys.map((p) => ({ id: p.id, name: p.name, backup_eligible: p.backupEligible, created_at: p.createdAt.toISOString(), last_used_at: p.lastUsedAt?.toISOString() ?? null }))
      print(values.json, { user_id: user.id, mfa_required: user.mfaRequired ?? false, totp: summary.totp, recovery_codes_left: summary.recoveryCodesLeft, passkeys },
        [`${user.username} (${user.id}): mfa_required ${user.mfaRequired ?? false}`,
          `authenticator app: ${summary.totp ? 'on' : 'off'}; recovery codes left: ${summary.recoveryCodesLeft}`,
          ...passkeys.map((p) => `passkey ${p.name} (${p.id}), added ${p.created_at}, last used ${p.last_used_at ?? 'never'}`)].join('\n'))
    } else if (action === 'reset-factors') {
      const removed = await ctx.factors.resetFactors(user.id)
      await ctx.audit.record({ type: 'factors_reset', actor: 'cli', subject: user.id, detail: { passkeys: removed.passkeys, totp: removed.totp, recovery_codes: removed.recoveryCodes } })
      print(values.json, { user_id: user.id, passkeys: removed.passkeys, totp: removed.totp, recovery_codes: removed.recoveryCodes },
        `removed ${removed.passkeys} passkey(s), ${removed.totp} authenticator app(s) and ${removed.recoveryCodes} recovery code(s) of ${user.username}`)
    } else {
      const mfaRequired = !values.off
      await ctx.users.update(user.id, { mfaRequired })
      await ctx.audit.record({ type: 'user_updated', actor: 'cli', subject: user.id, detail: { fields: ['mfa_required'], mfa_required: mfaRequired } })
      print(values.json, { user_id: user.id, mfa_required: mfaRequired }, `${user.username}: mfa_required ${mfaRequired}`)
    }
  })
}
