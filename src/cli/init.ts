/**
 * `stamp init [--username U] [--password-stdin] [--email E] [--rotate-secret] [--json]` — the
 * first administrator in one command, what docs/admin.md describes in four:
 *
 * 1. the database migrated and the signing keys created (as `npm start` would);
 * 2. a user holding `stamp:admin` (password policy applies);
 * 3. a first-party client `stamp-admin` that may use the password grant for `stamp:admin` (no
 *    audience: its tokens are for the issuer, which is what `/admin` requires);
 *
 * then prints how to get an admin token and call the API. Idempotent: run again, it creates
 * nothing and shows no secret (a client secret is shown once; `--rotate-secret` issues a new one).
 * An existing user without `stamp:admin` is refused rather than silently promoted.
 *
 * Without `--username` or a password it asks on the terminal (input hidden); without a
 * terminal, a new user needs `--password-stdin`.
 *
 * @module
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import type { Config } from '../config/env.js'
import { generateClientSecret, hashClientSecret } from '../domain/client_auth.js'
import { normalizeClientSettings } from '../domain/clients.js'
import { ADMIN_SCOPE } from '../schemas/admin.js'
import { withContext } from './context.js'
import { CommandError, print, readStdin, UsageError } from './output.js'

/** The admin console's client id: fixed, so a second `stamp init` finds it. */
export const ADMIN_CLIENT_ID = 'stamp-admin'

const USAGE = 'usage: stamp init [--username U] [--password-stdin] [--email E] [--rotate-secret] [--json]'

export async function initCommand (args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      username: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      email: { type: 'string' },
      'rotate-secret': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  })
  if (positionals.length) throw new UsageError(USAGE)
  const interactive = Boolean(process.stdin.isTTY) && !values['password-stdin']
  const username = values.username ?? (interactive ? (await ask('administrator username [admin]: ')) || 'admin' : 'admin')
  // Read stdin before connecting: a piped password must not wait for the database.
  const piped = values['password-stdin'] ? await readStdin() : undefined

  const result = await withContext(config, async (ctx) => {
    await ctx.keyring() // the first active + next signing keys, as the server would create them

    let user = await ctx.users.findByUsername(username)
    const userCreated = !user
    if (user) {
      if (!user.scopes.includes(ADMIN_SCOPE)) throw new CommandError(`user ${username} exists and is not an administrator; choose another --username`)
    } else {
      const password = piped ?? (interactive ? await askPassword() : undefined)
      if (password === undefined) throw new UsageError(`user ${username} does not exist yet: give its password with --password-stdin (or run stamp init in a terminal)`)
      const violation = (await ctx.passwordPolicy()).violation(password, { username })
      if (violation) throw new UsageError(violation)
      const passwordHash = await (await ctx.passwords()).hash(password)
      user = await ctx.users.create({ username, email: values.email ?? null, passwordHash, scopes: [ADMIN_SCOPE] }).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'P2002') throw new CommandError(`user ${username} was created by another process meanwhile; run stamp init again`)
        throw err
      })
      await ctx.audit.record({ type: 'user_created', actor: 'cli', subject: user.id, detail: { scopes: [ADMIN_SCOPE] } })
    }

    let secret: string | null = null
    const existing = await ctx.clients.find(ADMIN_CLIENT_ID)
    if (!existing) {
      // The same rules as `stamp client create` (a first-party password client also gets refresh_token).
      const { grantsByType } = await import('../grants/index.js')
      const settings = normalizeClientSettings({
        name: 'Stamp admin console',
        public: false,
        firstParty: true,
        grantTypes: ['password'],
        redirectUris: [],
        postLogoutRedirectUris: [],
        backchannelLogoutUri: null,
        requirePkce: true,
        scopes: [ADMIN_SCOPE],
        audiences: [],
      }, [...grantsByType.keys()])
      secret = generateClientSecret()
      await ctx.clients.create({ id: ADMIN_CLIENT_ID, secretHash: hashClientSecret(secret), ...settings })
      await ctx.audit.record({ type: 'client_created', actor: 'cli', subject: ADMIN_CLIENT_ID, clientId: ADMIN_CLIENT_ID, detail: { grant_types: settings.grantTypes, scopes: settings.scopes } })
    } else if (values['rotate-secret']) {
      secret = generateClientSecret()
      await ctx.clients.update(ADMIN_CLIENT_ID, { secretHash: hashClientSecret(secret) })
      await ctx.audit.record({ type: 'client_secret_rotated', actor: 'cli', subject: ADMIN_CLIENT_ID, clientId: ADMIN_CLIENT_ID })
    }
    return { user, userCreated, clientCreated: !existing, secret }
  })

  const issuer = config.issuer
  const next = nextSteps(issuer, username, result.secret)
  const output = {
    issuer,
    user: { id: result.user.id, username, scopes: result.user.scopes, created: result.userCreated },
    client: { client_id: ADMIN_CLIENT_ID, ...(result.secret ? { client_secret: result.secret } : {}), scope: ADMIN_SCOPE, created: result.clientCreated },
    next,
  }
  const lines = [
    `administrator: ${username} (${result.userCreated ? 'created' : 'already there'})`,
    `client_id:     ${ADMIN_CLIENT_ID} (${result.clientCreated ? 'created' : 'already there'})`,
    result.secret
      ? `client_secret: ${result.secret}\n(the secret is shown once; store it now)`
      : '(its secret was shown when it was created; `stamp init --rotate-secret` issues a new one)',
    '',
    'Next:',
    ...next.map((step, i) => `  ${i + 1}. ${step}`),
  ]
  print(values.json, output, lines.join('\n'))
}

function nextSteps (issuer: string, username: string, secret: string | null): string[] {
  const credentials = `${ADMIN_CLIENT_ID}:${secret ?? '$CLIENT_SECRET'}`
  return [
    `Start Stamp if it is not running: npm start (it serves ${issuer})`,
    `Get an admin access token (5 minutes; the password from stdin): curl -s -u '${credentials}' -d grant_type=password -d username=${username} -d scope=${ADMIN_SCOPE} --data-urlencode password@- ${issuer}/token`,
    `Call the admin API with it: curl -s -H "Authorization: Bearer $ACCESS_TOKEN" ${issuer}/admin/clients (OpenAPI: ${issuer}/docs)`,
    'Register your apps: npx stamp client create --name web --grant authorization_code --redirect-uri https://app.example/callback (README: Single sign-on)',
  ]
}

/** One line from the terminal; the prompt goes to stderr (stdout is the command's output). */
function ask (question: string, hidden = false): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  if (hidden) {
    // Echo nothing of what is typed (the prompt itself is written before muting).
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })
    process.stderr.write(question)
    write._writeToOutput = () => {}
    question = ''
  }
  return new Promise((resolve) => rl.question(question, (answer) => {
    rl.close()
    if (hidden) process.stderr.write('\n')
    resolve(answer)
  }))
}

async function askPassword (): Promise<string> {
  const password = await ask('password for the administrator: ', true)
  if (password !== await ask('the same password again: ', true)) throw new UsageError('the passwords do not match')
  return password
}
