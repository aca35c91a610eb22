/**
 * Pages of the second sign-in step: the second factor (one-time code, passkey, recovery code),
 * the enrolment of a passkey or an authenticator app when MFA is required and the user has none, and the
 * recovery codes shown once. Texts come from the catalogues (`factor.*`, `passkey.*`).
 *
 * @module
 */
import { t, type Locale } from '../../i18n/messages.js'
import { html, layout, msg, passkeyForm, passkeyRegistrationForm, type PageContext, type PasskeyEndpoints, type SafeHTML } from './views.js'

export interface SecondFactorView {
  action: string
  requestId: string
  csrf: string
  totp: boolean
  recovery: boolean
  passkey?: PasskeyEndpoints
  error?: string
  /** Sent as the password form's answer: the page's own GET address, and `scripts` to set it. */
  address?: { url: string, scripts: string[] }
}

export function secondFactorPage (ctx: PageContext, view: SecondFactorView): string {
  const l = ctx.locale
  const err = view.error ? html`<p class="alert" role="alert" id="factor-error">${view.error}</p>` : ''
  return layout(ctx, {
    title: t(l, 'factor.title'),
    scripts: [...view.address?.scripts ?? [], ...view.passkey?.scripts ?? []],
    address: view.address?.url,
    body: html`<h1>${msg(l, 'factor.title')}</h1>
<p class="sub">${msg(l, 'factor.intro')}</p>
${err}
${view.totp ? html`<form method="post" action="${view.action}">
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="method" value="totp">
<div class="field">
<label for="code">${msg(l, 'factor.codeLabel')}</label>
<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9 ]*" autocomplete="one-time-code" maxlength="8" required autofocus aria-describedby="code-hint${view.error ? ' factor-error' : ''}">
<p class="note hint" id="code-hint">${msg(l, 'factor.codeHint')}</p>
</div>
<div class="actions"><button type="submit" class="primary">${msg(l, 'factor.verify')}</button></div>
</form>` : ''}
${view.passkey ? passkeyForm(l, 'factor', view.passkey, view.requestId, view.csrf) : ''}
${view.recovery ? html`<details class="factor"><summary>${msg(l, 'factor.recoveryToggle')}</summary>
<form method="post" action="${view.action}">
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="method" value="recovery">
<div class="field">
<label for="recovery">${msg(l, 'factor.recoveryLabel')}</label>
<input type="text" id="recovery" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" required>
</div>
<div class="actions"><button type="submit" class="secondary">${msg(l, 'factor.recoveryVerify')}</button></div>
</form></details>` : ''}`,
  })
}

/** The TOTP enrolment block, shared by the sign-in enrolment and the account page. */
export function totpEnrolment (l: Locale, p: { qrSVG: string, secret: string, action: string, hidden: Record<string, string>, error?: string, submit: string }): SafeHTML {
  const src = 'data:image/svg+xml;base64,' + Buffer.from(p.qrSVG).toString('base64')
  return html`<img class="qr" src="${src}" alt="${t(l, 'factor.qrAlt')}" width="200" height="200">
<p class="note">${msg(l, 'factor.secretLabel')}</p>
<p class="secret" id="totp-secret">${p.secret.replace(/(.{4})/g, '$1 ').trim()}</p>
${p.error ? html`<p class="alert" role="alert" id="enrol-error">${p.error}</p>` : ''}
<form method="post" action="${p.action}">
${Object.entries(p.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="field">
<label for="enrol-code">${msg(l, 'factor.codeLabel')}</label>
<input type="text" id="enrol-code" name="code" inputmode="numeric" pattern="[0-9 ]*" autocomplete="one-time-code" maxlength="8" required${p.error ? html` aria-describedby="enrol-error"` : ''}>
</div>
<div class="actions"><button type="submit" class="primary">${p.submit}</button></div>
</form>`
}

export interface EnrolView {
  action: string
  requestId: string
  csrf: string
  qrSVG: string
  secret: string
  error?: string
  /** Passkey enrolment: its options and registration endpoints and the scripts. */
  passkey: PasskeyEndpoints
  /** A passkey registration just failed. */
  passkeyError?: string
}

/**
 * Enrolment at sign-in: a passkey first (phishing-resistant, the recommended factor), then an
 * authenticator app. The passkey section is hidden until the script finds WebAuthn support
 * (`passkey-only`), so without it the page offers the app alone.
 */
export function enrolPage (ctx: PageContext, view: EnrolView): string {
  const l = ctx.locale
  const hidden = { request: view.requestId, csrf: view.csrf }
  return layout(ctx, {
    title: t(l, 'factor.enrolChooseTitle'),
    scripts: view.passkey.scripts,
    body: html`<h1>${msg(l, 'factor.enrolChooseTitle')}</h1>
<p class="sub">${msg(l, 'factor.enrolChooseIntro')}</p>
<section class="passkey-only" aria-labelledby="enrol-passkey-title" hidden>
<h2 id="enrol-passkey-title">${msg(l, 'factor.enrolPasskeyTitle')}</h2>
<p class="note">${msg(l, 'factor.enrolPasskeyIntro')}</p>
${view.passkeyError ? html`<p class="alert" role="alert" id="enrol-passkey-error">${view.passkeyError}</p>` : ''}
${passkeyRegistrationForm(l, { action: view.passkey.action, optionsAction: view.passkey.optionsAction, hidden, error: t(l, 'account.passkeyFailed') })}
</section>
<section aria-labelledby="enrol-totp-title">
<h2 id="enrol-totp-title">${msg(l, 'factor.enrolTitle')}</h2>
<p class="note">${msg(l, 'factor.enrolIntro')}</p>
${totpEnrolment(l, { qrSVG: view.qrSVG, secret: view.secret, action: view.action, hidden, error: view.error, submit: t(l, 'factor.enrol') })}
</section>`,
  })
}

export function recoveryCodesPage (ctx: PageContext, view: { codes: string[], action: string, hidden: Record<string, string>, method?: 'get' | 'post' }): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'factor.codesTitle'),
    body: html`<h1>${msg(l, 'factor.codesTitle')}</h1>
<p class="sub">${msg(l, 'factor.codesIntro')}</p>
<ul class="codes" id="recovery-codes">${view.codes.map((c) => html`<li>${c}</li>`)}</ul>
<form method="${view.method ?? 'post'}" action="${view.action}">
${Object.entries(view.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="actions"><button type="submit" class="primary">${msg(l, 'factor.continue')}</button></div>
</form>`,
  })
}
