/**
 * Pages of the federated sign-in: the error page (always with a way back to the sign-in page)
 * and the "you already have an account" page that asks for a local sign-in before linking.
 *
 * @module
 */
import { t } from '../../i18n/messages.js'
import { html, layout, msg, strong, type PageContext } from './views.js'

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
</form>`,
  })
}
