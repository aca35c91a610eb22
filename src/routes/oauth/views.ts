/**
 * Server-rendered pages of the hosted login: sign-in, consent, logout and error pages.
 *
 * Plain template functions: every interpolated value goes through {@link escapeHTML}; there is no
 * script at all (the pages work without JavaScript) and the one stylesheet is inline, allowed by a
 * per-response CSP nonce.
 *
 * @module
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHTML (value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c])
}

/** Tagged template that escapes every interpolation unless it is already {@link SafeHTML}. */
export class SafeHTML {
  readonly html: string
  constructor (html: string) { this.html = html }
  toString (): string { return this.html }
}

export function html (strings: TemplateStringsArray, ...values: unknown[]): SafeHTML {
  let out = strings[0]
  values.forEach((value, i) => {
    const part = Array.isArray(value)
      ? value.map((v) => (v instanceof SafeHTML ? v.html : escapeHTML(v))).join('')
      : value instanceof SafeHTML ? value.html : escapeHTML(value)
    out += part + strings[i + 1]
  })
  return new SafeHTML(out)
}

const STYLE = `
:root{--bg:#f4f5f7;--card:#fff;--text:#1b1f24;--muted:#5b6470;--border:#d6dae0;--accent:#3d5afe;--accent-ink:#fff;--accent-hover:#2f49d8;--danger-bg:#fdecec;--danger:#a4161a;--focus:rgba(61,90,254,.35)}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--card:#181c22;--text:#e8ebef;--muted:#9aa3ae;--border:#2c323b;--accent:#6c83ff;--accent-ink:#0b0d10;--accent-hover:#8b9dff;--danger-bg:#3a1416;--danger:#ffb3b5;--focus:rgba(108,131,255,.45)}}
*{box-sizing:border-box}
html,body{margin:0;padding:0}
body{min-height:100vh;display:flex;flex-direction:column;align-items:center;justify-content:center;padding:24px 16px;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
main{width:100%;max-width:400px}
.brand{display:flex;align-items:center;justify-content:center;gap:10px;margin-bottom:20px;font-weight:650;font-size:20px;letter-spacing:-.01em}
.mark{width:32px;height:32px;border-radius:9px;background:linear-gradient(135deg,var(--accent),#7c4dff);display:grid;place-items:center;color:#fff;font-size:17px;font-weight:800;box-shadow:0 2px 6px rgba(61,90,254,.35)}
.card{background:var(--card);border:1px solid var(--border);border-radius:14px;padding:32px 28px;box-shadow:0 1px 2px rgba(16,24,40,.04),0 8px 24px rgba(16,24,40,.06)}
h1{font-size:22px;line-height:1.3;margin:0 0 6px;letter-spacing:-.01em}
.sub{color:var(--muted);margin:0 0 24px;font-size:15px}
.sub strong{color:var(--text);font-weight:600}
.host{font-size:17px;margin:0 0 10px}
.host strong{color:var(--text);font-weight:700}
label{display:block;font-size:14px;font-weight:600;margin:0 0 6px}
.field{margin-bottom:18px}
input[type=text],input[type=password]{width:100%;padding:11px 12px;font:inherit;color:var(--text);background:var(--card);border:1px solid var(--border);border-radius:9px;transition:border-color .15s,box-shadow .15s}
input:focus{outline:none;border-color:var(--accent);box-shadow:0 0 0 4px var(--focus)}
button{appearance:none;width:100%;padding:11px 16px;font:inherit;font-weight:600;border-radius:9px;border:1px solid transparent;cursor:pointer;transition:background .15s}
button:focus-visible{outline:none;box-shadow:0 0 0 4px var(--focus)}
.primary{background:var(--accent);color:var(--accent-ink)}
.primary:hover{background:var(--accent-hover)}
.secondary{background:transparent;color:var(--text);border-color:var(--border)}
.secondary:hover{background:var(--bg)}
.actions{display:grid;gap:10px;margin-top:8px}
.alert{background:var(--danger-bg);color:var(--danger);border-radius:9px;padding:10px 12px;font-size:14px;margin:0 0 18px}
.scopes{list-style:none;padding:0;margin:0 0 22px;border:1px solid var(--border);border-radius:10px}
.scopes li{padding:12px 14px;display:flex;gap:10px;align-items:flex-start;font-size:15px}
.scopes li+li{border-top:1px solid var(--border)}
.scopes li::before{content:"";flex:none;width:8px;height:8px;margin-top:8px;border-radius:50%;background:var(--accent)}
.note{color:var(--muted);font-size:13px;margin:18px 0 0;text-align:center}
footer{margin-top:22px;color:var(--muted);font-size:13px;text-align:center}
@media (max-width:480px){body{justify-content:flex-start;padding-top:40px}.card{padding:26px 20px;border-radius:12px}}
`

interface LayoutOptions { nonce: string, title: string, body: SafeHTML }

export function layout ({ nonce, title, body }: LayoutOptions): string {
  return '<!doctype html>\n' + html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · Stamp</title>
<style nonce="${nonce}">${new SafeHTML(STYLE)}</style>
</head>
<body>
<main>
<div class="brand" aria-hidden="true"><span class="mark">S</span><span>Stamp</span></div>
<div class="card">
${body}
</div>
<footer>Secured by Stamp</footer>
</main>
</body>
</html>
`.html
}

export interface LoginView {
  nonce: string
  action: string
  requestId: string
  csrf: string
  clientName: string
  username?: string
  error?: string
}

export function loginPage (view: LoginView): string {
  return layout({
    nonce: view.nonce,
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
<p class="sub">to continue to <strong>${view.clientName}</strong></p>
${view.error ? html`<p class="alert" role="alert" id="login-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="field">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${view.username ?? ''}" autocomplete="username" autocapitalize="none" spellcheck="false" required${view.username ? '' : new SafeHTML(' autofocus')}${view.error ? new SafeHTML(' aria-describedby="login-error"') : ''}>
</div>
<div class="field">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${view.username ? new SafeHTML(' autofocus') : ''}>
</div>
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>`,
  })
}

/** Plain-language descriptions for the scopes users see on the consent page. */
const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm who you are',
  profile: 'See your username',
  email: 'See your email address',
  offline_access: 'Stay signed in to the app when you are not using it',
}

export function describeScope (scope: string): string {
  return SCOPE_DESCRIPTIONS[scope] ?? `Access “${scope}”`
}

export interface ConsentView {
  nonce: string
  action: string
  requestId: string
  csrf: string
  clientName: string
  /** Self-registered clients: the host that vouches for the client (its document's, or its redirect URI's). */
  clientHost?: string
  clientHostLabel?: string
  username: string
  scopes: string[]
}

export function consentPage (view: ConsentView): string {
  return layout({
    nonce: view.nonce,
    title: 'Allow access',
    body: html`<h1>Allow ${view.clientName}?</h1>
${view.clientHost ? html`<p class="host">${view.clientHostLabel ?? 'Published by'} <strong>${view.clientHost}</strong></p>
<p class="note">This application registered itself; Stamp's operator has not reviewed it. Allow it only if you trust <strong>${view.clientHost}</strong>.</p>` : ''}
<p class="sub">Signed in as <strong>${view.username}</strong>. <strong>${view.clientName}</strong> would like to:</p>
<ul class="scopes">${view.scopes.map((s) => html`<li>${describeScope(s)}</li>`)}</ul>
<form method="post" action="${view.action}">
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Cancel</button>
</div>
</form>
<p class="note">You can withdraw this permission at any time.</p>`,
  })
}

export interface LogoutConfirmView {
  nonce: string
  action: string
  csrf: string
  clientName?: string
  /** Hidden fields carried through the confirmation (client_id, post_logout_redirect_uri, state…). */
  fields: Record<string, string | undefined>
}

export function logoutConfirmPage (view: LogoutConfirmView): string {
  const hidden = Object.entries(view.fields).filter(([, v]) => v !== undefined)
  return layout({
    nonce: view.nonce,
    title: 'Sign out',
    body: html`<h1>Sign out?</h1>
<p class="sub">${view.clientName ? html`<strong>${view.clientName}</strong> asked to sign you out. ` : ''}You will be signed out of every application that uses this account on this browser.</p>
<form method="post" action="${view.action}">
${hidden.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="actions"><button type="submit" class="primary">Sign out</button></div>
</form>`,
  })
}

export function signedOutPage (nonce: string): string {
  return layout({
    nonce,
    title: 'Signed out',
    body: html`<h1>You are signed out</h1>
<p class="sub">You have been signed out of this browser. You can close this window.</p>`,
  })
}

export function errorPage (nonce: string, title: string, message: string): string {
  return layout({
    nonce,
    title,
    body: html`<h1>${title}</h1>
<p class="sub" role="alert">${message}</p>
<p class="note">If this keeps happening, contact the application's support.</p>`,
  })
}
