/**
 * Pages of the second sign-in step: the second factor (one-time code, passkey, recovery code),
 * the enrolment of an authenticator app when MFA is required and the user has none, and the
 * recovery codes shown once. Texts are in {@link FACTOR_TEXT}.
 *
 * @module
 */
import { PASSKEY_TEXT, html, layout, passkeyForm, type SafeHTML } from './views.js'

export const FACTOR_TEXT = {
  title: 'Confirm it is you',
  intro: 'Your account is protected by a second step.',
  codeLabel: 'Code from your authenticator app',
  codeHint: 'Six digits, for example 123456.',
  verify: 'Continue',
  recoveryLabel: 'Recovery code',
  recoveryToggle: 'Use a recovery code',
  recoveryVerify: 'Use recovery code',
  wrongCode: 'That code is not right, or was already used. Wait for the next code and try again.',
  wrongRecovery: 'That recovery code is not right or was already used.',
  enrolTitle: 'Set up an authenticator app',
  enrolIntro: 'This application requires a second step when you sign in. Scan the QR code with an authenticator app, then enter the code it shows.',
  qrAlt: 'QR code for your authenticator app',
  secretLabel: 'Or enter this key by hand:',
  enrol: 'Turn on',
  codesTitle: 'Save your recovery codes',
  codesIntro: 'Each code signs you in once if you lose your authenticator. Store them somewhere safe: they are shown only now.',
  continue: 'Continue',
} as const

export interface SecondFactorView {
  nonce: string
  action: string
  requestId: string
  csrf: string
  totp: boolean
  recovery: boolean
  passkey?: { optionsAction: string, action: string, scripts: string[] }
  error?: string
}

export function secondFactorPage (view: SecondFactorView): string {
  const t = FACTOR_TEXT
  const err = view.error ? html`<p class="alert" role="alert" id="factor-error">${view.error}</p>` : ''
  return layout({
    nonce: view.nonce,
    title: t.title,
    scripts: view.passkey?.scripts,
    body: html`<h1>${t.title}</h1>
<p class="sub">${t.intro}</p>
${err}
${view.totp ? html`<form method="post" action="${view.action}">
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="method" value="totp">
<div class="field">
<label for="code">${t.codeLabel}</label>
<input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9 ]*" autocomplete="one-time-code" maxlength="8" required autofocus aria-describedby="code-hint${view.error ? ' factor-error' : ''}">
<p class="note" id="code-hint">${t.codeHint}</p>
</div>
<div class="actions"><button type="submit" class="primary">${t.verify}</button></div>
</form>` : ''}
${view.passkey ? passkeyForm('factor', view.passkey, view.requestId, view.csrf, PASSKEY_TEXT.useKey) : ''}
${view.recovery ? html`<details class="factor"><summary>${t.recoveryToggle}</summary>
<form method="post" action="${view.action}">
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="method" value="recovery">
<div class="field">
<label for="recovery">${t.recoveryLabel}</label>
<input type="text" id="recovery" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" required>
</div>
<div class="actions"><button type="submit" class="secondary">${t.recoveryVerify}</button></div>
</form></details>` : ''}`,
  })
}

/** The TOTP enrolment block, shared by the sign-in enrolment and the account page. */
export function totpEnrolment (p: { qrSVG: string, secret: string, action: string, hidden: Record<string, string>, error?: string, submit: string }): SafeHTML {
  const t = FACTOR_TEXT
  const src = 'data:image/svg+xml;base64,' + Buffer.from(p.qrSVG).toString('base64')
  return html`<img class="qr" src="${src}" alt="${t.qrAlt}" width="200" height="200">
<p class="note">${t.secretLabel}</p>
<p class="secret" id="totp-secret">${p.secret.replace(/(.{4})/g, '$1 ').trim()}</p>
${p.error ? html`<p class="alert" role="alert" id="enrol-error">${p.error}</p>` : ''}
<form method="post" action="${p.action}">
${Object.entries(p.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="field">
<label for="enrol-code">${t.codeLabel}</label>
<input type="text" id="enrol-code" name="code" inputmode="numeric" pattern="[0-9 ]*" autocomplete="one-time-code" maxlength="8" required${p.error ? html` aria-describedby="enrol-error"` : ''}>
</div>
<div class="actions"><button type="submit" class="primary">${p.submit}</button></div>
</form>`
}

export interface EnrolView {
  nonce: string
  action: string
  requestId: string
  csrf: string
  qrSVG: string
  secret: string
  error?: string
}

export function enrolPage (view: EnrolView): string {
  const t = FACTOR_TEXT
  return layout({
    nonce: view.nonce,
    title: t.enrolTitle,
    body: html`<h1>${t.enrolTitle}</h1>
<p class="sub">${t.enrolIntro}</p>
${totpEnrolment({ qrSVG: view.qrSVG, secret: view.secret, action: view.action, hidden: { request: view.requestId, csrf: view.csrf }, error: view.error, submit: t.enrol })}`,
  })
}

export function recoveryCodesPage (view: { nonce: string, codes: string[], action: string, hidden: Record<string, string>, method?: 'get' | 'post' }): string {
  const t = FACTOR_TEXT
  return layout({
    nonce: view.nonce,
    title: t.codesTitle,
    body: html`<h1>${t.codesTitle}</h1>
<p class="sub">${t.codesIntro}</p>
<ul class="codes" id="recovery-codes">${view.codes.map((c) => html`<li>${c}</li>`)}</ul>
<form method="${view.method ?? 'post'}" action="${view.action}">
${Object.entries(view.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<div class="actions"><button type="submit" class="primary">${t.continue}</button></div>
</form>`,
  })
}
