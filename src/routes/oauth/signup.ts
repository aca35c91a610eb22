/**
 * Self-registration at `/signup` (SIGNUP): `invite` accepts only invitation links
 * (`/signup?invite=…`, created with `stamp user invite` or the admin API); `open` also shows the
 * form to anyone, and the new account may not sign in before its address is verified (a link
 * is mailed). Registered only when SIGNUP is not `off`.
 *
 * An open sign-up naming an address that already has an account answers exactly like a new one
 * (domain/accounts.ts mails that address instead). A taken username is said so: usernames are
 * public identifiers the user picks.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ACCOUNT_PAGES, emailProblem } from '../../domain/accounts.js'
import { USERNAME_MAX_LENGTH, usernameProblem } from '../../domain/usernames.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { t } from '../../i18n/messages.js'
import type { AccountTokenRecord } from '../../storage/types.js'
import { browserErrorPages, carriedLocale, pageContext, sendErrorPage, sendPage } from './browser.js'
import { queryOf } from './authorize.js'
import { field, overLongPage } from './login.js'
import { backToSignIn, checkCSRF, formCSRF, parkedRequestId, passwordProblem } from './account_forms.js'
import { noticePage, signupPage, type SignupView } from './account_views.js'

export default async function signupRoutes (app: FastifyInstance) {
  browserErrorPages(app)
  const open = app.config.signup === 'open'

  /** The invitation a request names (undefined: none named; null: named but not usable). */
  async function invitation (token: string | undefined): Promise<AccountTokenRecord | null | undefined> {
    if (token === undefined) return undefined
    return app.accounts.liveLink(token, 'invite')
  }

  function render (request: FastifyRequest, reply: FastifyReply, status: number, invite: { token: string, record: AccountTokenRecord } | undefined,
    values: Pick<SignupView, 'username' | 'email' | 'error' | 'errorField'> = {}) {
    const ctx = pageContext(request)
    return sendPage(reply, status, signupPage(ctx, {
      action: publicIssuer(request) + ACCOUNT_PAGES.signup,
      csrf: formCSRF(request, reply, 'signup', invite?.record.id ?? 'open'),
      uiLocales: carriedLocale(request),
      hidden: { invite: invite?.token, request: parkedRequestId(request) },
      invitedEmail: invite?.record.email,
      // A new account has no second factor yet: the single-factor minimum (NIST SP 800-63B-4).
      minLength: app.passwordPolicy.minLength(false),
      links: backToSignIn(request, ctx.locale),
      ...values,
    }))
  }

  const refused = (reply: FastifyReply) => sendErrorPage(reply, 403, 'signup.title', 'signup.off.message')
  const invalid = (reply: FastifyReply) => sendErrorPage(reply, 400, 'reset.invalid.title', 'signup.invalid.message')

  app.get(ACCOUNT_PAGES.signup, async (request, reply) => {
    const token = queryOf(request).invite?.[0]
    const invite = await invitation(token)
    if (invite === null) return invalid(reply)
    if (!invite && !open) return refused(reply)
    return render(request, reply, 200, invite ? { token: token!, record: invite } : undefined)
  })

  app.post(ACCOUNT_PAGES.signup, { config: { rateLimit: app.rateLimits.account } }, async (request, reply) => {
    const long = overLongPage(reply, request.body, 'account.cannot')
    if (long) return long
    const token = field(request.body, 'invite')
    const record = await invitation(token)
    if (record === null) return invalid(reply)
    if (!record && !open) return refused(reply)
    const invite = record ? { token: token!, record } : undefined
    if (!checkCSRF(request, 'signup', record?.id ?? 'open')) return sendErrorPage(reply, 403, 'error.formExpired.title', 'account.formExpired')

    const { locale } = pageContext(request)
    const username = field(request.body, 'username')?.trim() ?? ''
    const email = invite ? invite.record.email : field(request.body, 'email')?.trim() ?? ''
    const password = field(request.body, 'password') ?? ''
    const again = (status: number, errorField: SignupView['errorField'], error: string) =>
      render(request, reply, status, invite, { username, email: invite ? undefined : email, error, errorField })
    if (usernameProblem(username)) return again(400, 'username', t(locale, 'signup.error.username', { max: USERNAME_MAX_LENGTH }))
    if (!invite && emailProblem(email)) return again(400, 'email', t(locale, 'signup.error.email'))
    const violation = app.passwordPolicy.violation(password, { username })
    if (violation) return again(400, 'password', passwordProblem(locale, violation))
    if (await app.usersRepository.findByUsername(username)) return again(409, 'username', t(locale, 'signup.error.usernameTaken'))
    const passwordHash = await app.passwordHasher.hash(password)

    if (invite) {
      const result = await app.accounts.redeemInvite(invite.token, username, passwordHash, request.ip)
      if (result === 'invalid') return invalid(reply)
      if (result === 'username_taken') return again(409, 'username', t(locale, 'signup.error.usernameTaken'))
      return sendPage(reply, 201, noticePage(pageContext(request), {
        title: t(locale, 'signup.done.title'), message: t(locale, 'signup.done.message', { username: result.user.username }), links: backToSignIn(request, locale),
      }))
    }
    const result = await app.accounts.signUp(username, email, passwordHash, { issuer: publicIssuer(request), locale, ip: request.ip })
    if (result === 'username_taken') return again(409, 'username', t(locale, 'signup.error.usernameTaken'))
    return sendPage(reply, 200, noticePage(pageContext(request), {
      title: t(locale, 'signup.sent.title'), message: t(locale, 'signup.sent.message', { email }), links: backToSignIn(request, locale),
    }))
  })
}
