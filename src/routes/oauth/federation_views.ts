/**
 * Pages of the federated sign-in: the error page (always with a way back to the sign-in page),
 * the "you already have an account" page that asks for a local sign-in (or a confirmation by
 * mail) before linking, and the confirm page the mailed link opens.
 *
 * @module
 */
import { t } from '../../i18n/messages.js'
import { html, layout, localeField, msg, strong, type PageContext } from './views.js'

export interface FederationErrorView {
  title: string
  message: string
  /** The sign-in page of the same request, when it is still there. */
  back?: string
}

export function federationErrorPage (ctx: PageContext, view: FederationErrorView): string {
  const l = ctx.locale
  return layout(ctx, {
    title: view.title,
    body: html`<h1>${view.title}</h1>
<p class="sub" role="alert">${view.message}</p>
${view.back ? html`<p class="links"><a href="${view.back}">${msg(l, 'federation.backToLogin')}</a></p>` : html`<p class="note">${msg(l, 'error.expired.message')}</p>`}`,
  })
}

export interface LinkView {
  provider: string
  email: string
  /** The sign-in page of the same request (the pending link waits there). */
  signIn: string
  /** "Send me a confirmation mail instead" (POST). */
  mail: { action: string, csrf: string, requestId: string, uiLocales?: string }
}

export function linkAccountPage (ctx: PageContext, view: LinkView): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'federation.link.title'),
    body: html`<h1>${msg(l, 'federation.link.heading')}</h1>
<p class="sub">${msg(l, 'federation.link.message', { email: strong(view.email), provider: strong(view.provider) })}</p>
<p class="note">${msg(l, 'federation.link.why', { provider: view.provider })}</p>
<form method="get" action="${view.signIn.split('?')[0]}">
${[...new URL(view.signIn).searchParams].map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="actions"><button type="submit" class="primary">${msg(l, 'federation.link.continue', { provider: view.provider })}</button></div>
</form>
<p class="note">${msg(l, 'federation.link.mailNote')}</p>
<form method="post" action="${view.mail.action}">
<input type="hidden" name="csrf" value="${view.mail.csrf}">
<input type="hidden" name="request" value="${view.mail.requestId}">
${localeField(view.mail.uiLocales)}<div class="actions"><button type="submit" class="secondary">${msg(l, 'federation.link.mailInstead')}</button></div>
</form>`,
  })
}

export interface ConfirmLinkView {
  provider: string
  username: string
  action: string
  csrf: string
  token: string
  uiLocales?: string
}

/** What the mailed link opens: a button, so a mail scanner following links confirms nothing. */
export function confirmLinkPage (ctx: PageContext, view: ConfirmLinkView): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'federation.linkMail.confirm.title', { provider: view.provider }),
    body: html`<h1>${msg(l, 'federation.linkMail.confirm.title', { provider: view.provider })}</h1>
<p class="sub">${msg(l, 'federation.linkMail.confirm.message', { provider: strong(view.provider), username: strong(view.username) })}</p>
<form method="post" action="${view.action}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="token" value="${view.token}">
${localeField(view.uiLocales)}<div class="actions"><button type="submit" class="primary">${msg(l, 'federation.linkMail.confirm.button')}</button></div>
</form>`,
  })
}
