/**
 * The account page's HTML: password, passkeys, authenticator app, recovery codes, sessions and
 * apps. Every form posts with the CSRF token; texts come from the catalogues (`account.*`).
 *
 * @module
 */
import { t } from '../../i18n/messages.js'
import { html, layout, msg, passkeyRegistrationForm, type PageContext, type SafeHTML } from '../oauth/views.js'

/** The `?done=` keys the page confirms (`account.done.*` in the catalogues). */
export const DONE_MESSAGES = ['password', 'passkey_added', 'passkey_renamed', 'passkey_removed', 'totp_removed', 'session_ended', 'family_revoked', 'consent_withdrawn', 'unlinked', 'password_set']

export interface AccountView {
  base: string
  csrf: string
  username: string
  message?: string
  error?: string
  passwordMinLength: number
  /** False for a user created just in time (no password yet): "Set password", without the current one. */
  hasPassword: boolean
  factorsEnabled: boolean
  passkeys: Array<{ id: string, name: string, createdAt: Date, lastUsedAt: Date | null, synced: boolean }>
  totp: boolean
  recoveryCodesLeft: number
  sessions: Array<{ id: string, authTime: Date, current: boolean, apps: string[] }>
  families: Array<{ familyId: string, clientName: string, scope: string, lastUsedAt: Date }>
  consents: Array<{ clientId: string, clientName: string, scopes: string[] }>
  scripts: string[]
  /** Upstream identity providers linked to the account. */
  links: Array<{ id: string, provider: string, email: string | null, createdAt: Date, lastUsedAt: Date | null }>
  /** Whether any provider is enabled (the section shows, empty, so users know they can link one). */
  providersAvailable: boolean
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC'

function post (action: string, csrf: string, fields: Record<string, string>, label: string, cls = 'secondary', aria?: string): SafeHTML {
  return html`<form method="post" action="${action}" class="inline">
<input type="hidden" name="csrf" value="${csrf}">
${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit" class="${cls}"${aria ? html` aria-label="${aria}"` : ''}>${label}</button>
</form>`
}

export function accountPage (ctx: PageContext, v: AccountView): string {
  const l = ctx.locale
  const m = (key: Parameters<typeof msg>[1], vars?: Parameters<typeof msg>[2]) => msg(l, key, vars)
  const a = (path: string) => v.base + path
  return layout(ctx, {
    title: t(l, 'account.title'),
    wide: true,
    scripts: v.factorsEnabled ? v.scripts : [],
    body: html`<h1>${m('account.title')}</h1>
<p class="sub">${m('account.signedInAs', { user: html`<strong>${v.username}</strong>` })}</p>
${v.message ? html`<p class="ok" role="status">${v.message}</p>` : ''}
${v.error ? html`<p class="alert" role="alert">${v.error}</p>` : ''}
<p class="note">${m('account.recentNote')}</p>

<section aria-labelledby="password-title">
<h2 id="password-title">${m('account.passwordTitle')}</h2>
<form method="post" action="${a('/password')}">
<input type="hidden" name="csrf" value="${v.csrf}">
<input type="text" name="username" value="${v.username}" autocomplete="username" hidden>
${v.hasPassword
  ? html`<div class="field"><label for="current-password">${m('account.currentPassword')}</label>
<input type="password" id="current-password" name="current_password" autocomplete="current-password" required></div>`
  : html`<p class="note intro">${m('account.setPasswordNote')}</p>`}
<div class="field"><label for="new-password">${m('account.newPassword')}</label>
<input type="password" id="new-password" name="new_password" autocomplete="new-password" required aria-describedby="new-password-hint">
<p class="note hint" id="new-password-hint">${m('account.passwordHint', { min: v.passwordMinLength })}</p></div>
<div class="actions"><button type="submit" class="primary">${m(v.hasPassword ? 'account.changePassword' : 'account.setPassword')}</button></div>
</form>
</section>

${v.factorsEnabled ? html`<section aria-labelledby="passkeys-title">
<h2 id="passkeys-title">${m('account.passkeysTitle')}</h2>
<p class="sub">${m('account.passkeysIntro')}</p>
${v.passkeys.length ? html`<ul class="list" id="passkeys">${v.passkeys.map((p, i) => html`<li>
<strong>${p.name}</strong>
<p class="meta">${m('account.created', { when: when(p.createdAt) })} · ${p.lastUsedAt ? m('account.lastUsed', { when: when(p.lastUsedAt) }) : m('account.never')} · ${m(p.synced ? 'account.synced' : 'account.deviceBound')}</p>
<form method="post" action="${a('/passkeys/rename')}" class="inline">
<input type="hidden" name="csrf" value="${v.csrf}">
<input type="hidden" name="id" value="${p.id}">
<div class="field"><label for="passkey-name-${i}">${m('account.passkeyName')}</label>
<input type="text" id="passkey-name-${i}" name="name" value="${p.name}" maxlength="64" required></div>
<button type="submit" class="secondary">${m('account.rename')}</button>
</form>
${post(a('/passkeys/remove'), v.csrf, { id: p.id }, t(l, 'account.remove'), 'secondary', t(l, 'account.removeNamed', { name: p.name }))}
</li>`)}</ul>` : html`<p class="sub">${m('account.noPasskeys')}</p>`}
${passkeyRegistrationForm(l, { action: a('/passkeys'), optionsAction: a('/passkeys/options'), hidden: { csrf: v.csrf }, error: t(l, 'account.passkeyFailed') })}
</section>

<section aria-labelledby="totp-title">
<h2 id="totp-title">${m('account.totpTitle')}</h2>
<p class="sub">${m(v.totp ? 'account.totpOn' : 'account.totpOff')}</p>
${v.totp
  ? post(a('/totp/remove'), v.csrf, {}, t(l, 'account.removeTotp'))
  : html`<form method="get" action="${a('/totp')}" class="inline"><button type="submit" class="primary">${m('account.setUpTotp')}</button></form>`}
</section>

<section aria-labelledby="recovery-title">
<h2 id="recovery-title">${m('account.recoveryTitle')}</h2>
<p class="sub">${v.recoveryCodesLeft ? m('account.recoveryLeft', { count: v.recoveryCodesLeft }) : m('account.recoveryNone')}</p>
${post(a('/recovery-codes'), v.csrf, {}, t(l, 'account.regenerate'))}
</section>` : ''}

${v.links.length || v.providersAvailable ? html`<section aria-labelledby="links-title">
<h2 id="links-title">${m('account.linkedTitle')}</h2>
<p class="sub">${m('account.linkedIntro')}</p>
${v.links.length ? html`<ul class="list" id="links">${v.links.map((x) => html`<li>
<strong>${x.provider}</strong>
<p class="meta">${x.email ? html`${x.email} · ` : ''}${m('account.linkedSince', { when: when(x.createdAt) })} · ${x.lastUsedAt ? m('account.lastUsed', { when: when(x.lastUsedAt) }) : m('account.never')}</p>
${post(a('/links/remove'), v.csrf, { link: x.id }, t(l, 'account.unlink'), 'secondary', t(l, 'account.unlinkNamed', { name: x.provider }))}
</li>`)}</ul>` : html`<p class="sub">${m('account.noLinked')}</p>`}
</section>` : ''}

<section aria-labelledby="sessions-title">
<h2 id="sessions-title">${m('account.sessionsTitle')}</h2>
<ul class="list" id="sessions">${v.sessions.map((s) => html`<li>
<strong>${s.current ? t(l, 'account.sessionThis') : s.id.slice(0, 8)}</strong>
<p class="meta">${m('account.sessionSince', { when: when(s.authTime) })}${s.apps.length ? html` · ${m('account.sessionApps', { apps: s.apps.join(', ') })}` : ''}</p>
${post(a('/sessions/end'), v.csrf, { sid: s.id }, t(l, 'account.endSession'), 'secondary', t(l, 'account.endSessionNamed', { name: s.current ? t(l, 'account.sessionThis') : s.id.slice(0, 8) }))}
</li>`)}</ul>
</section>

<section aria-labelledby="apps-title">
<h2 id="apps-title">${m('account.appsTitle')}</h2>
${v.families.length ? html`<ul class="list" id="families">${v.families.map((f) => html`<li>
<strong>${f.clientName}</strong>
<p class="meta">${f.scope || '—'} · ${m('account.lastUsed', { when: when(f.lastUsedAt) })}</p>
${post(a('/families/revoke'), v.csrf, { family: f.familyId }, t(l, 'account.revoke'), 'secondary', t(l, 'account.revokeNamed', { name: f.clientName }))}
</li>`)}</ul>` : html`<p class="sub">${m('account.noApps')}</p>`}
<h2 id="consents-title">${m('account.consentsTitle')}</h2>
${v.consents.length ? html`<ul class="list" id="consents">${v.consents.map((c) => html`<li>
<strong>${c.clientName}</strong>
<p class="meta">${c.scopes.join(' ')}</p>
${post(a('/consents/withdraw'), v.csrf, { client: c.clientId }, t(l, 'account.withdraw'), 'secondary', t(l, 'account.withdrawNamed', { name: c.clientName }))}
</li>`)}</ul>` : html`<p class="sub">${m('account.noConsents')}</p>`}
</section>`,
  })
}

export function accountTOTPPage (ctx: PageContext, body: SafeHTML): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'factor.enrolTitle'),
    body: html`<h1>${msg(l, 'factor.enrolTitle')}</h1>
<p class="sub">${msg(l, 'account.totpEnrolIntro')}</p>
${body}`,
  })
}
