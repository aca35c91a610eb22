/**
 * The account page's HTML: password, passkeys, authenticator app, recovery codes, sessions and
 * apps. Every form posts with the CSRF token; texts are in {@link ACCOUNT_TEXT}.
 *
 * @module
 */
import { html, layout, type SafeHTML } from '../oauth/views.js'

export const ACCOUNT_TEXT = {
  title: 'Your account',
  signedInAs: 'Signed in as',
  signOut: 'Sign out',
  passwordTitle: 'Password',
  currentPassword: 'Current password',
  newPassword: 'New password',
  passwordHint: (min: number) => `At least ${min} characters.`,
  changePassword: 'Change password',
  passkeysTitle: 'Passkeys',
  passkeysIntro: 'Sign in with your fingerprint, face or device PIN instead of a password.',
  noPasskeys: 'No passkeys yet.',
  passkeyName: 'Name',
  passkeyNewName: 'Name for the new passkey',
  passkeyDefaultName: 'My passkey',
  addPasskey: 'Add a passkey',
  rename: 'Rename',
  remove: 'Remove',
  created: 'Added',
  lastUsed: 'last used',
  never: 'never used',
  synced: 'synced',
  deviceBound: 'this device only',
  passkeyFailed: 'The passkey could not be added. Try again.',
  totpTitle: 'Authenticator app',
  totpOn: 'An authenticator app gives you one-time codes when you sign in.',
  totpOff: 'Get one-time codes from an app on your phone when you sign in.',
  setUpTotp: 'Set up',
  removeTotp: 'Turn off',
  totpEnrolTitle: 'Set up an authenticator app',
  totpEnrolIntro: 'Scan the QR code with an authenticator app, then enter the code it shows.',
  enableTotp: 'Turn on',
  recoveryTitle: 'Recovery codes',
  recoveryLeft: (n: number) => `${n} of 10 unused codes left.`,
  recoveryNone: 'No recovery codes.',
  regenerate: 'Create new codes',
  sessionsTitle: 'Where you are signed in',
  sessionThis: 'this browser',
  sessionSince: 'signed in',
  sessionApps: 'apps',
  endSession: 'Sign out',
  appsTitle: 'Apps with access',
  noApps: 'No app has ongoing access.',
  revoke: 'Revoke access',
  consentsTitle: 'Apps you allowed',
  noConsents: 'You have not allowed any app yet.',
  withdraw: 'Withdraw',
  back: 'Back to your account',
  recentNote: 'Changes to your password and sign-in methods ask you to sign in again when your last sign-in is more than a few minutes old.',
  done: {
    password: 'Your password was changed. Your other sessions were signed out.',
    passkey_added: 'The passkey was added.',
    passkey_renamed: 'The passkey was renamed.',
    passkey_removed: 'The passkey was removed.',
    totp_removed: 'The authenticator app was turned off.',
    session_ended: 'The session was signed out.',
    family_revoked: 'The app\'s access was revoked.',
    consent_withdrawn: 'The permission was withdrawn.',
  } as Record<string, string>,
  errors: {
    wrongPassword: 'Your current password is not right.',
    passkeyFailed: 'The passkey could not be added. Try again.',
  },
}

export interface AccountView {
  nonce: string
  base: string
  csrf: string
  username: string
  message?: string
  error?: string
  passwordMinLength: number
  factorsEnabled: boolean
  passkeys: Array<{ id: string, name: string, createdAt: Date, lastUsedAt: Date | null, synced: boolean }>
  totp: boolean
  recoveryCodesLeft: number
  sessions: Array<{ id: string, authTime: Date, current: boolean, apps: string[] }>
  families: Array<{ familyId: string, clientName: string, scope: string, lastUsedAt: Date }>
  consents: Array<{ clientId: string, clientName: string, scopes: string[] }>
  scripts: string[]
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC'

function post (action: string, csrf: string, fields: Record<string, string>, label: string, cls = 'secondary', aria?: string): SafeHTML {
  return html`<form method="post" action="${action}" class="inline">
<input type="hidden" name="csrf" value="${csrf}">
${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit" class="${cls}"${aria ? html` aria-label="${aria}"` : ''}>${label}</button>
</form>`
}

export function accountPage (v: AccountView): string {
  const t = ACCOUNT_TEXT
  const a = (path: string) => v.base + path
  return layout({
    nonce: v.nonce,
    title: t.title,
    wide: true,
    scripts: v.factorsEnabled ? v.scripts : [],
    body: html`<h1>${t.title}</h1>
<p class="sub">${t.signedInAs} <strong>${v.username}</strong></p>
${v.message ? html`<p class="ok" role="status">${v.message}</p>` : ''}
${v.error ? html`<p class="alert" role="alert">${v.error}</p>` : ''}
<p class="note">${t.recentNote}</p>

<section aria-labelledby="password-title">
<h2 id="password-title">${t.passwordTitle}</h2>
<form method="post" action="${a('/password')}">
<input type="hidden" name="csrf" value="${v.csrf}">
<input type="text" name="username" value="${v.username}" autocomplete="username" hidden>
<div class="field"><label for="current-password">${t.currentPassword}</label>
<input type="password" id="current-password" name="current_password" autocomplete="current-password" required></div>
<div class="field"><label for="new-password">${t.newPassword}</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" required aria-describedby="new-password-hint">
<p class="note" id="new-password-hint">${t.passwordHint(v.passwordMinLength)}</p></div>
<div class="actions"><button type="submit" class="primary">${t.changePassword}</button></div>
</form>
</section>

${v.factorsEnabled ? html`<section aria-labelledby="passkeys-title">
<h2 id="passkeys-title">${t.passkeysTitle}</h2>
<p class="sub">${t.passkeysIntro}</p>
${v.passkeys.length ? html`<ul class="list" id="passkeys">${v.passkeys.map((p, i) => html`<li>
<strong>${p.name}</strong>
<p class="meta">${t.created} ${when(p.createdAt)} · ${p.lastUsedAt ? html`${t.lastUsed} ${when(p.lastUsedAt)}` : t.never} · ${p.synced ? t.synced : t.deviceBound}</p>
<form method="post" action="${a('/passkeys/rename')}" class="inline">
<input type="hidden" name="csrf" value="${v.csrf}">
<input type="hidden" name="id" value="${p.id}">
<div class="field"><label for="passkey-name-${i}">${t.passkeyName}</label>
<input type="text" id="passkey-name-${i}" name="name" value="${p.name}" maxlength="64" required></div>
<button type="submit" class="secondary">${t.rename}</button>
</form>
${post(a('/passkeys/remove'), v.csrf, { id: p.id }, t.remove, 'secondary', `${t.remove} ${p.name}`)}
</li>`)}</ul>` : html`<p class="note">${t.noPasskeys}</p>`}
<form method="post" action="${a('/passkeys')}" data-passkey="register" data-options="${a('/passkeys/options')}" data-error="${t.passkeyFailed}">
<input type="hidden" name="csrf" value="${v.csrf}">
<input type="hidden" id="passkey-challenge" name="challenge" value="">
<input type="hidden" id="passkey-credential" name="credential" value="">
<p class="alert passkey-status" role="alert" hidden></p>
<div class="inline"><div class="field"><label for="passkey-new-name">${t.passkeyNewName}</label>
<input type="text" id="passkey-new-name" name="name" value="${t.passkeyDefaultName}" maxlength="64" required></div>
<button type="submit" class="primary passkey-button" hidden>${t.addPasskey}</button></div>
</form>
</section>

<section aria-labelledby="totp-title">
<h2 id="totp-title">${t.totpTitle}</h2>
<p class="sub">${v.totp ? t.totpOn : t.totpOff}</p>
${v.totp
  ? post(a('/totp/remove'), v.csrf, {}, t.removeTotp)
  : html`<form method="get" action="${a('/totp')}" class="inline"><button type="submit" class="primary">${t.setUpTotp}</button></form>`}
</section>

<section aria-labelledby="recovery-title">
<h2 id="recovery-title">${t.recoveryTitle}</h2>
<p class="sub">${v.recoveryCodesLeft ? t.recoveryLeft(v.recoveryCodesLeft) : t.recoveryNone}</p>
${post(a('/recovery-codes'), v.csrf, {}, t.regenerate)}
</section>` : ''}

<section aria-labelledby="sessions-title">
<h2 id="sessions-title">${t.sessionsTitle}</h2>
<ul class="list" id="sessions">${v.sessions.map((s) => html`<li>
<strong>${s.current ? t.sessionThis : s.id.slice(0, 8)}</strong>
<p class="meta">${t.sessionSince} ${when(s.authTime)}${s.apps.length ? html` · ${t.sessionApps}: ${s.apps.join(', ')}` : ''}</p>
${post(a('/sessions/end'), v.csrf, { sid: s.id }, t.endSession, 'secondary', `${t.endSession}: ${s.current ? t.sessionThis : s.id.slice(0, 8)}`)}
</li>`)}</ul>
</section>

<section aria-labelledby="apps-title">
<h2 id="apps-title">${t.appsTitle}</h2>
${v.families.length ? html`<ul class="list" id="families">${v.families.map((f) => html`<li>
<strong>${f.clientName}</strong>
<p class="meta">${f.scope || '—'} · ${t.lastUsed} ${when(f.lastUsedAt)}</p>
${post(a('/families/revoke'), v.csrf, { family: f.familyId }, t.revoke, 'secondary', `${t.revoke}: ${f.clientName}`)}
</li>`)}</ul>` : html`<p class="note">${t.noApps}</p>`}
<h2 id="consents-title">${t.consentsTitle}</h2>
${v.consents.length ? html`<ul class="list" id="consents">${v.consents.map((c) => html`<li>
<strong>${c.clientName}</strong>
<p class="meta">${c.scopes.join(' ')}</p>
${post(a('/consents/withdraw'), v.csrf, { client: c.clientId }, t.withdraw, 'secondary', `${t.withdraw}: ${c.clientName}`)}
</li>`)}</ul>` : html`<p class="note">${t.noConsents}</p>`}
</section>`,
  })
}

export function accountTOTPPage (v: { nonce: string, body: SafeHTML }): string {
  return layout({
    nonce: v.nonce,
    title: ACCOUNT_TEXT.totpEnrolTitle,
    body: html`<h1>${ACCOUNT_TEXT.totpEnrolTitle}</h1>
<p class="sub">${ACCOUNT_TEXT.totpEnrolIntro}</p>
${v.body}`,
  })
}
