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

export async function userCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action === 'invite' || action === 'reset-email') return (await import('./user_mail.js')).userMailCommand(action, rest, config)
  if (action !== 'create') throw new UsageError('usage: stamp user create --username U (--password P | --password-stdin) [--email E] [--scope "a b"] [--admin] [--json]')
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
