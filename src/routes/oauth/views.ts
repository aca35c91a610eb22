/**
 * Server-rendered pages of the hosted login: sign-in, consent, logout and error pages.
 *
 * Plain template functions over a {@link PageContext} (locale and branding): every word comes
 * from the message catalogues (src/i18n/messages/*.json), every interpolated value is escaped
 * (html.ts). The pages work without JavaScript; their one stylesheet is a served file
 * (`/assets/stamp.css`, with the brand colour), so the CSP allows no inline style or script.
 *
 * @module
 */
import { t, type Locale } from '../../i18n/messages.js'
import type { Branding } from '../../domain/branding.js'
import { html, msg, SafeHTML, strong } from './html.js'

export { escapeHTML, html, msg, msgn, SafeHTML, strong } from './html.js'

/** What every page needs besides its own data: the language and the brand. */
export interface PageContext {
  locale: Locale
  /** The public issuer: asset paths are relative to it. */
  issuer: string
  branding: Pick<Branding, 'productName' | 'logo' | 'stylesheet'>
}

export interface LayoutOptions {
  /** The document title's page part (plain text). */
  title: string
  body: SafeHTML
  /** Extra static scripts of this page (paths relative to the issuer, e.g. from `assetPath`). */
  scripts?: string[]
  /** A wider card (the account page). */
  wide?: boolean
  /**
   * For a page sent as the answer to a form POST: the URL that shows it by GET, put in the
   * history entry by SCRIPTS.pageAddress (which the page must load) so a reload does not re-post.
   */
  address?: string
}

function absolute (ctx: PageContext, path: string): string {
  return path.startsWith('/') ? ctx.issuer + path : path
}

/** The page frame: header with the brand, the card with `body`, and the footer. */
export function layout (ctx: PageContext, { title, body, scripts = [], wide = false, address }: LayoutOptions): string {
  const { locale, branding } = ctx
  const mark = branding.logo
    ? html`<img class="logo" src="${absolute(ctx, branding.logo)}" alt="">`
    : html`<span class="mark">${[...branding.productName][0]?.toUpperCase() ?? 'S'}</span>`
  return '<!doctype html>\n' + html`<html lang="${locale}"${address ? html` data-address="${address}"` : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${msg(locale, 'layout.title', { title, product: branding.productName })}</title>
<link rel="stylesheet" href="${absolute(ctx, branding.stylesheet)}">
${scripts.map((src) => html`<script src="${absolute(ctx, src)}" defer></script>\n`)}</head>
<body>
<main${wide ? new SafeHTML(' class="wide"') : ''}>
<div class="brand" aria-hidden="true">${mark}<span>${branding.productName}</span></div>
<div class="card">
${body}
</div>
<footer>${msg(locale, 'layout.footer', { product: branding.productName })}</footer>
</main>
</body>
</html>
`.html
}

export interface LoginView {
  action: string
  requestId: string
  csrf: string
  clientName: string
  username?: string
  error?: string
  /** The `ui_locales` to keep for the next page (a hidden field). */
  uiLocales?: string
  /** Links under the form (e.g. "Forgot password?"), already localized. */
  links?: Array<{ href: string, text: string }>
  /** Passkey sign-in (passwordless): the options and sign-in endpoints and the scripts. */
  passkey?: PasskeyEndpoints
  /** A passkey just failed: no automatic (conditional) request again, only the button. */
  passkeyFailed?: boolean
  /** "Continue with NAME": enabled upstream identity providers, and where their forms post. */
  federation?: { action: string, providers: Array<{ slug: string, name: string }> }
  /** A pending link: signing in now links this provider (routes/oauth/federation.ts). */
  pendingProvider?: string
}

export interface PasskeyEndpoints { optionsAction: string, action: string, scripts: string[] }

/** A form the passkey script drives (assets/webauthn.js); its hidden fields are filled by the script. */
export function passkeyForm (l: Locale, kind: 'signin' | 'factor', p: PasskeyEndpoints, requestId: string, csrf: string, conditional = true): SafeHTML {
  return html`<form method="post" action="${p.action}" data-passkey="${kind}"${conditional ? '' : html` data-conditional="off"`} data-options="${p.optionsAction}" data-error="${t(l, 'passkey.failed')}">
<input type="hidden" name="request" value="${requestId}">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" id="passkey-challenge-${kind}" name="challenge" value="">
<input type="hidden" id="passkey-credential-${kind}" name="credential" value="">
<p class="alert passkey-status" aria-live="assertive" hidden></p>
<div class="actions"><button type="button" class="secondary passkey-button" hidden>${msg(l, kind === 'signin' ? 'passkey.signIn' : 'passkey.useKey')}</button></div>
</form>`
}

/**
 * A passkey registration form the script drives (assets/webauthn.js, `data-passkey="register"`):
 * the account page's and the enrolment at sign-in's. `hidden` are the form's own fields
 * (the CSRF token, and at sign-in the request id), which the script also sends for the options.
 */
export function passkeyRegistrationForm (l: Locale, p: { action: string, optionsAction: string, hidden: Record<string, string>, error: string }): SafeHTML {
  return html`<form method="post" action="${p.action}" data-passkey="register" data-options="${p.optionsAction}" data-error="${p.error}">
${Object.entries(p.hidden).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" id="passkey-challenge" name="challenge" value="">
<input type="hidden" id="passkey-credential" name="credential" value="">
<p class="alert passkey-status" aria-live="assertive" hidden></p>
<div class="inline"><div class="field"><label for="passkey-new-name">${msg(l, 'account.passkeyNewName')}</label>
<input type="text" id="passkey-new-name" name="name" value="${t(l, 'account.passkeyDefaultName')}" maxlength="64" required></div>
<button type="submit" class="primary passkey-button" hidden>${msg(l, 'account.addPasskey')}</button></div>
</form>`
}

export function loginPage (ctx: PageContext, view: LoginView): string {
  const l = ctx.locale
  const title = t(l, 'login.title')
  return layout(ctx, {
    title,
    scripts: view.passkey?.scripts,
    body: html`<h1>${msg(l, 'login.title')}</h1>
<p class="sub">${msg(l, 'login.subtitle', { client: strong(view.clientName) })}</p>
${view.pendingProvider ? html`<p class="note intro" role="status" id="link-notice">${msg(l, 'federation.pendingNotice', { provider: strong(view.pendingProvider) })}</p>` : ''}
${view.error ? html`<p class="alert" role="alert" id="login-error">${view.error}</p>` : ''}
<form method="post" action="${view.action}" novalidate>
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
${localeField(view.uiLocales)}<div class="field">
<label for="username">${msg(l, 'login.username')}</label>
<input type="text" id="username" name="username" value="${view.username ?? ''}" autocomplete="${view.passkey ? 'username webauthn' : 'username'}" autocapitalize="none" spellcheck="false" required${view.username ? '' : new SafeHTML(' autofocus')}${view.error ? new SafeHTML(' aria-describedby="login-error"') : ''}>
</div>
<div class="field">
<label for="password">${msg(l, 'login.password')}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${view.username ? new SafeHTML(' autofocus') : ''}>
</div>
<div class="actions"><button type="submit" class="primary">${msg(l, 'login.submit')}</button></div>
</form>
${view.passkey ? passkeyForm(l, 'signin', view.passkey, view.requestId, view.csrf, !view.passkeyFailed) : ''}
${view.federation?.providers.length ? federationButtons(l, view.federation, view.requestId, view.csrf, view.uiLocales) : ''}
${view.links?.length ? html`<p class="links">${view.links.map((link, i) => html`${i ? ' · ' : ''}<a href="${link.href}">${link.text}</a>`)}</p>` : ''}`,
  })
}

/**
 * One small POST form per upstream provider (a link would be a GET anyone could trigger): the
 * parked request's id and the login form's CSRF token travel with it.
 */
function federationButtons (l: Locale, f: NonNullable<LoginView['federation']>, requestId: string, csrf: string, uiLocales: string | undefined): SafeHTML {
  return html`<section class="federation" aria-labelledby="federation-title">
<h2 id="federation-title" class="divider">${msg(l, 'federation.otherWays')}</h2>
${f.providers.map((p) => html`<form method="post" action="${f.action}">
<input type="hidden" name="request" value="${requestId}">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="provider" value="${p.slug}">
${localeField(uiLocales)}<div class="actions"><button type="submit" class="secondary">${msg(l, 'federation.continueWith', { provider: p.name })}</button></div>
</form>`)}
</section>`
}

/** A hidden `ui_locales` field, so the page after a form post keeps the language the request asked for. */
export function localeField (uiLocales: string | undefined): SafeHTML | string {
  return uiLocales ? html`<input type="hidden" name="ui_locales" value="${uiLocales}">\n` : ''
}

const DESCRIBED_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access'])

/** Plain-language description of a scope, as the consent page shows it. */
export function describeScope (locale: Locale, scope: string): SafeHTML {
  return DESCRIBED_SCOPES.has(scope)
    ? msg(locale, `consent.scope.${scope}` as 'consent.scope.openid')
    : msg(locale, 'consent.scope.other', { scope })
}

export interface ConsentView {
  action: string
  requestId: string
  csrf: string
  clientName: string
  /** Self-registered clients: the host that vouches for the client (its document's, or its redirect URI's). */
  clientHost?: string
  /** Which of the two the host is. */
  clientHostKind?: 'publishedBy' | 'returnsTo'
  username: string
  scopes: string[]
  uiLocales?: string
}

export function consentPage (ctx: PageContext, view: ConsentView): string {
  const l = ctx.locale
  const product = ctx.branding.productName
  return layout(ctx, {
    title: t(l, 'consent.title'),
    body: html`<h1>${msg(l, 'consent.heading', { client: view.clientName })}</h1>
${view.clientHost ? html`<p class="host">${msg(l, view.clientHostKind === 'returnsTo' ? 'consent.returnsTo' : 'consent.publishedBy', { host: strong(view.clientHost) })}</p>
<p class="note">${msg(l, 'consent.unreviewed', { product, host: strong(view.clientHost) })}</p>` : ''}
<p class="sub">${msg(l, 'consent.signedInAs', { user: strong(view.username), client: strong(view.clientName) })}</p>
<ul class="scopes">${view.scopes.map((s) => html`<li>${describeScope(l, s)}</li>`)}</ul>
<form method="post" action="${view.action}">
<input type="hidden" name="request" value="${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
${localeField(view.uiLocales)}<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">${msg(l, 'consent.allow')}</button>
<button type="submit" name="decision" value="deny" class="secondary">${msg(l, 'consent.cancel')}</button>
</div>
</form>
<p class="note">${msg(l, 'consent.withdraw')}</p>`,
  })
}

export interface LogoutConfirmView {
  action: string
  csrf: string
  clientName?: string
  /** Hidden fields carried through the confirmation (client_id, post_logout_redirect_uri, state…). */
  fields: Record<string, string | undefined>
}

export function logoutConfirmPage (ctx: PageContext, view: LogoutConfirmView): string {
  const l = ctx.locale
  const hidden = Object.entries(view.fields).filter(([, v]) => v !== undefined)
  return layout(ctx, {
    title: t(l, 'logout.title'),
    body: html`<h1>${msg(l, 'logout.heading')}</h1>
<p class="sub">${view.clientName ? html`${msg(l, 'logout.askedBy', { client: strong(view.clientName) })} ` : ''}${msg(l, 'logout.everywhere')}</p>
<form method="post" action="${view.action}">
${hidden.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" name="csrf" value="${view.csrf}">
<div class="actions"><button type="submit" class="primary">${msg(l, 'logout.submit')}</button></div>
</form>`,
  })
}

export function signedOutPage (ctx: PageContext): string {
  const l = ctx.locale
  return layout(ctx, {
    title: t(l, 'signedOut.title'),
    body: html`<h1>${msg(l, 'signedOut.heading')}</h1>
<p class="sub">${msg(l, 'signedOut.message')}</p>`,
  })
}

/** `title` and `message` are plain text, already localized. */
export function errorPage (ctx: PageContext, title: string, message: string): string {
  return layout(ctx, {
    title,
    body: html`<h1>${title}</h1>
<p class="sub" role="alert">${message}</p>
<p class="note">${msg(ctx.locale, 'error.contactSupport')}</p>`,
  })
}
