/**
 * The device verification pages (RFC 8628 §3.3): code entry, approval and the final page, in the
 * hosted pages' layout (routes/oauth/views.ts). Every user-visible string is in {@link TEXT}, so
 * the pages can move to the message catalogues in one step.
 *
 * @module
 */
import { SafeHTML, describeScope, html, layout } from '../oauth/views.js'

/** Every string the device pages show. */
export const TEXT = {
  entryTitle: 'Connect a device',
  entryHeading: 'Connect a device',
  entryIntro: 'Enter the code shown on your TV, console or other device.',
  codeLabel: 'Code',
  codeHint: '8 letters, for example BCDF-GHJK. Upper or lower case, with or without the dash.',
  continue: 'Continue',
  codeMissing: 'Enter the code shown on your device.',
  codeUnknown: 'That code is not valid. Check the code on your device and try again.',
  approveTitle: 'Allow device',
  approveHeading: (client: string) => `Allow ${client} on your device?`,
  approveSignedInAs: 'Signed in as',
  approveWouldLike: 'would like to:',
  approveWarning: 'Only continue if you started this on your own device just now. Never enter a code that someone else sent you.',
  allow: 'Allow',
  deny: 'Cancel',
  signInFirst: 'Sign in',
  approvedTitle: 'Device connected',
  approvedMessage: (client: string) => `${client} is now connected. You can close this window and return to your device.`,
  deniedTitle: 'Request denied',
  deniedMessage: (client: string) => `${client} was not given access. You can close this window.`,
  expiredTitle: 'This code has expired',
  expiredMessage: 'The code is no longer valid. Start again on your device to get a new code.',
  usedTitle: 'This code was already used',
  usedMessage: 'This code has already been approved or denied. Start again on your device if you need a new code.',
  stepTitle: 'Start again',
  stepMessage: 'This page belongs to another browser or has expired. Enter the code shown on your device again.',
  formExpiredTitle: 'This form has expired',
  formExpiredMessage: 'For your security the form could not be accepted. Enter the code shown on your device again.',
  blockedTitle: 'Too many wrong codes',
  blockedMessage: (seconds: number) => `Too many wrong codes were entered in this browser. Try again in ${Math.ceil(seconds / 60)} minute${Math.ceil(seconds / 60) === 1 ? '' : 's'}.`,
  chooseMessage: 'Choose Allow or Cancel.',
  wrongPassword: 'Incorrect username or password.',
  missingPassword: 'Enter your username and password.',
  throttled: (seconds: number) => `Too many attempts; try again in ${seconds} seconds.`,
  invalidTitle: 'Cannot continue',
} as const

/** The code field reads better large and spaced; the style carries the page's nonce. */
const CODE_STYLE = '.code{font:600 24px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.12em;text-transform:uppercase;text-align:center}.hint{color:var(--muted);font-size:13px;margin:6px 0 0}'

export interface EntryView { nonce: string, action: string, csrf: string, userCode?: string, error?: string }

export function entryPage (view: EntryView): string {
  return layout({
    nonce: view.nonce,
    title: TEXT.entryTitle,
    body: html`<style nonce="${view.nonce}">${new SafeHTML(CODE_STYLE)}</style>
<h1>${TEXT.entryHeading}</h1>
<p class="sub">${TEXT.entryIntro}</p>
${view.error ? html`<p class="alert" role="alert" id="code-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="field">
<label for="user_code">${TEXT.codeLabel}</label>
<input type="text" class="code" id="user_code" name="user_code" value="${view.userCode ?? ''}" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="12" required autofocus aria-describedby="${view.error ? 'code-error code-hint' : 'code-hint'}">
<p class="hint" id="code-hint">${TEXT.codeHint}</p>
</div>
<div class="actions"><button type="submit" class="primary">${TEXT.continue}</button></div>
</form>`,
  })
}

export interface ApproveView {
  nonce: string
  action: string
  deviceId: string
  csrf: string
  clientName: string
  username: string
  scopes: string[]
}

export function approvePage (view: ApproveView): string {
  return layout({
    nonce: view.nonce,
    title: TEXT.approveTitle,
    body: html`<h1>${TEXT.approveHeading(view.clientName)}</h1>
<p class="sub">${TEXT.approveSignedInAs} <strong>${view.username}</strong>. <strong>${view.clientName}</strong> ${TEXT.approveWouldLike}</p>
<ul class="scopes">${view.scopes.map((s) => html`<li>${describeScope(s)}</li>`)}</ul>
<p class="alert">${TEXT.approveWarning}</p>
<form method="post" action="${view.action}">
<input type="hidden" name="device" value="${view.deviceId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">${TEXT.allow}</button>
<button type="submit" name="decision" value="deny" class="secondary">${TEXT.deny}</button>
</div>
</form>`,
  })
}

export function donePage (nonce: string, approved: boolean, clientName: string): string {
  const title = approved ? TEXT.approvedTitle : TEXT.deniedTitle
  return layout({
    nonce,
    title,
    body: html`<h1>${title}</h1>
<p class="sub" role="status">${approved ? TEXT.approvedMessage(clientName) : TEXT.deniedMessage(clientName)}</p>`,
  })
}
