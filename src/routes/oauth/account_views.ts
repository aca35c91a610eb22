/**
 * Pages of the mail flows: forgot password, reset password, confirm the address, sign up, and the
 * short "what happens next" pages between them. Same frame, catalogues and escaping as views.ts.
 *
 * @module
 */
import { t } from '../../i18n/messages.js'
import { html, layout, localeField, msg, SafeHTML, strong, type PageContext } from './views.js'

export interface Link { href: string, text: string }

function links (items: Link[] | undefined): SafeHTML | string {
  return items?.length ? html`<p class="links">${items.map((l, i) => html`${i ? ' · ' : ''}<a href="${l.href}">${l.text}</a>`)}</p>` : ''
}

function alert (error: string | undefined, id: string): SafeHTML | string {
  return error ? html`<p class="alert" role="alert" id="${id}">${error}</p>` : ''
}

/** `aria-describedby` for a field the error is about. */
function describedBy (error: string | undefined, id: string): SafeHTML | string {
  return error ? new SafeHTML(` aria-describedby="${id}"`) : ''
}

interface FormBase {
  action: string
  csrf: string
  uiLocales?: string
  error?: string
  links?: Link[]
  /** Hidden fields carried through (the parked request id). */
  hidden?: Record<string, string | undefined>
}

function hiddenFields (view: FormBase): SafeHTML {
  const fields = Object.entries(view.hidden ?? {}).filter(([, v]) => v !== undefined)
  return html`<input type="hidden" name="csrf" value="${view.csrf}">
${fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">\n`)}${localeField(view.uiLocales)}`
}

/** A page that only says what happened (mail sent, password changed, address confirmed…). */
export function noticePage (ctx: PageContext, view: { title: string, message: SafeHTML | string, links?: Link[] }): string {
  return layout(ctx, {
    title: view.title,
    body: html`<h1>${view.title}</h1>
<p class="sub" role="status">${view.message}</p>
${links(view.links)}`,
  })
}

export function forgotPage (ctx: PageContext, view: FormBase & { email?: string }): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'forgot.title'),
    body: html`<h1>${msg(l, 'forgot.title')}</h1>
<p class="sub">${msg(l, 'forgot.intro')}</p>
${alert(view.error, 'forgot-error')}
<form method="post" action="${view.action}" novalidate>
${hiddenFields(view)}<div class="field">
<label for="email">${msg(l, 'forgot.email')}</label>
<input type="email" id="email" name="email" value="${view.email ?? ''}" autocomplete="email" autocapitalize="none" spellcheck="false" required autofocus${describedBy(view.error, 'forgot-error')}>
</div>
<div class="actions"><button type="submit" class="primary">${msg(l, 'forgot.submit')}</button></div>
</form>
${links(view.links)}`,
  })
}

export function resetPage (ctx: PageContext, view: FormBase & { username: string, minLength: number }): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'reset.title'),
    body: html`<h1>${msg(l, 'reset.title')}</h1>
<p class="sub">${msg(l, 'reset.intro', { username: strong(view.username) })}</p>
${alert(view.error, 'reset-error')}
<form method="post" action="${view.action}" novalidate>
${hiddenFields(view)}<input type="text" name="username" value="${view.username}" autocomplete="username" hidden>
<div class="field">
<label for="password">${msg(l, 'reset.password')}</label>
<input type="password" id="password" name="password" autocomplete="new-password" required autofocus aria-describedby="password-hint${view.error ? ' reset-error' : ''}">
<p class="note hint" id="password-hint">${msg(l, 'reset.hint', { min: view.minLength })}</p>
</div>
<div class="field">
<label for="confirm">${msg(l, 'reset.confirm')}</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" required>
</div>
<div class="actions"><button type="submit" class="primary">${msg(l, 'reset.submit')}</button></div>
</form>`,
  })
}

export function verifyPage (ctx: PageContext, view: FormBase & { email: string }): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'verify.title'),
    body: html`<h1>${msg(l, 'verify.title')}</h1>
<p class="sub">${msg(l, 'verify.intro', { email: strong(view.email) })}</p>
<form method="post" action="${view.action}">
${hiddenFields(view)}<div class="actions"><button type="submit" class="primary">${msg(l, 'verify.submit')}</button></div>
</form>`,
  })
}

export interface SignupView extends FormBase {
  /** Invitation sign-up: the invited address, fixed. */
  invitedEmail?: string
  username?: string
  email?: string
  minLength: number
  /** Which field the error is about (it gets `aria-invalid` and focus). */
  errorField?: 'username' | 'email' | 'password'
}

export function signupPage (ctx: PageContext, view: SignupView): string {
  const l = ctx.locale
  const invalid = (field: SignupView['errorField']) => view.error && view.errorField === field
    ? new SafeHTML(' aria-invalid="true" aria-describedby="signup-error" autofocus')
    : ''
  return layout(ctx, {
    title: t(l, 'signup.title'),
    body: html`<h1>${msg(l, 'signup.title')}</h1>
<p class="sub">${view.invitedEmail ? msg(l, 'signup.invited', { email: strong(view.invitedEmail) }) : msg(l, 'signup.intro', { product: ctx.branding.productName })}</p>
${alert(view.error, 'signup-error')}
<form method="post" action="${view.action}" novalidate>
${hiddenFields(view)}<div class="field">
<label for="username">${msg(l, 'signup.username')}</label>
<input type="text" id="username" name="username" value="${view.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required${view.error ? invalid('username') : new SafeHTML(' autofocus')}>
</div>
${view.invitedEmail
  ? ''
  : html`<div class="field">
<label for="email">${msg(l, 'signup.email')}</label>
<input type="email" id="email" name="email" value="${view.email ?? ''}" autocomplete="email" autocapitalize="none" spellcheck="false" required${invalid('email')}>
</div>
`}<div class="field">
<label for="password">${msg(l, 'signup.password')}</label>
<input type="password" id="password" name="password" autocomplete="new-password" required aria-describedby="password-hint"${view.error && view.errorField === 'password' ? new SafeHTML(' aria-invalid="true" autofocus') : ''}>
<p class="note hint" id="password-hint">${msg(l, 'reset.hint', { min: view.minLength })}</p>
</div>
<div class="actions"><button type="submit" class="primary">${msg(l, 'signup.submit')}</button></div>
</form>
${links(view.links)}`,
  })
}
