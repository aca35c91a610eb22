/**
 * `stamp user create --username U (--password P | --password-stdin) [--email E] [--scope "a b"]`
 *
 * @module
 */
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { withContext } from './context.js'
import { CommandError, print, readStdin, UsageError } from './output.js'

export async function userCommand (args: string[], config: Config): Promise<void> {
  const [action, ...rest] = args
  if (action !== 'create') throw new UsageError('usage: stamp user create --username U (--password P | --password-stdin) [--email E] [--scope "a b"] [--json]')
  const { values } = parseArgs({
    args: rest,
    options: {
      username: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      email: { type: 'string' },
      scope: { type: 'string', default: '' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (!values.username) throw new UsageError('--username is required')
  if ((values.password === undefined) === !values['password-stdin']) throw new UsageError('give exactly one of --password or --password-stdin')
  const password = values.password ?? await readStdin()
  if (password.length < 8) throw new UsageError('password must be at least 8 characters')
  const username = values.username
  const scopes = values.scope.split(' ').filter(Boolean)
  await withContext(config, async (ctx) => {
    if (await ctx.users.findByUsername(username)) throw new CommandError(`user ${username} already exists`)
    const user = await ctx.users.create({ username, email: values.email ?? null, passwordHash: await ctx.passwords.hash(password), scopes })
    print(values.json, { id: user.id, username: user.username, email: user.email, scopes: user.scopes }, `created user ${user.username} (${user.id})`)
  })
}
