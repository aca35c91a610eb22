/**
 * The device verification pages (RFC 8628 §3.3): code entry, approval and the final page, in the
 * hosted pages' layout and language (routes/oauth/views.ts; messages `device.*` in
 * src/i18n/messages). The styles of the code field are in the hosted pages' stylesheet.
 *
 * @module
 */
import { t } from '../../i18n/messages.js'
import { describeScope, html, layout, localeField, msg, strong, type PageContext } from '../oauth/views.js'

export interface EntryView {
  action: string
  csrf: string
  userCode?: string
  error?: string
  uiLocales?: string
  /** The configured user code length, and a code of that shape for the hint. */
  codeLength: number
  example: string
}

export function entryPage (ctx: PageContext, view: EntryView): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'device.entry.title'),
    body: html`<h1>${msg(l, 'device.entry.title')}</h1>
<p class="sub">${msg(l, 'device.entry.intro')}</p>
${view.error ? html`<p class="alert" role="alert" id="code-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
${localeField(view.uiLocales)}<div class="field">
<label for="user_code">${msg(l, 'device.code.label')}</label>
<input type="text" class="code" id="user_code" name="user_code" value="${view.userCode ?? ''}" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="${String(view.codeLength + 4)}" required autofocus aria-describedby="${view.error ? 'code-error code-hint' : 'code-hint'}">
<p class="hint" id="code-hint">${msg(l, 'device.code.hint', { length: String(view.codeLength), example: view.example })}</p>
</div>
<div class="actions"><button type="submit" class="primary">${msg(l, 'device.continue')}</button></div>
</form>`,
  })
}

export interface ApproveView {
  action: string
  deviceId: string
  csrf: string
  clientName: string
  username: string
  scopes: string[]
  uiLocales?: string
}

export function approvePage (ctx: PageContext, view: ApproveView): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'device.approve.title'),
    body: html`<h1>${msg(l, 'device.approve.heading', { client: view.clientName })}</h1>
<p class="sub">${msg(l, 'device.approve.signedInAs', { user: strong(view.username), client: strong(view.clientName) })}</p>
<ul class="scopes">${view.scopes.map((s) => html`<li>${describeScope(l, s)}</li>`)}</ul>
<p class="alert">${msg(l, 'device.approve.warning')}</p>
<form method="post" action="${view.action}">
<input type="hidden" name="device" value="${view.deviceId}">
<input type="hidden" name="csrf" value="${view.csrf}">
${localeField(view.uiLocales)}<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">${msg(l, 'device.allow')}</button>
<button type="submit" name="decision" value="deny" class="secondary">${msg(l, 'device.deny')}</button>
</div>
</form>`,
  })
}

export function donePage (ctx: PageContext, approved: boolean, clientName: string): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, approved ? 'device.approved.title' : 'device.denied.title'),
    body: html`<h1>${msg(l, approved ? 'device.approved.title' : 'device.denied.title')}</h1>
<p class="sub" role="status">${msg(l, approved ? 'device.approved.message' : 'device.denied.message', { client: clientName })}</p>`,
  })
}
