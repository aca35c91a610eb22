/**
 * Upstream identity providers (issue 16, docs/federation.md): list (GET
 * /admin/identity-providers), add one with every option the API has (POST: OpenID Connect by
 * discovery or plain OAuth 2, client authentication with a secret, a private key or none, claim
 * mapping, just-in-time users, home-realm domains, upstream logout), edit (PATCH), enable or
 * disable, and delete (DELETE) behind typing its name. Credentials are write-only: the form
 * sends a new secret or key only when one is typed, and the API never returns one (only whether
 * one is stored, and for private_key_jwt the public key to register upstream).
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Check, CopyValue, Dialog, Field, FormError, Loading, Select, Table, TextArea, Time, TypedConfirm, formValues, lines, useAction, useLoad } from '../components.js'
import { BASE, linkClick, navigate } from '../router.js'
import type { PageProps } from '../routes.js'

type Provider = Ok<'/admin/identity-providers/{id}', 'get'>
type AuthMethod = Provider['auth_method']
const MAPPED = ['sub', 'email', 'email_verified', 'name', 'username'] as const

export function IdentityProvidersPage ({ url }: PageProps) {
  const id = url.searchParams.get('id')
  return id ? <ProviderDetail id={id} /> : <ProviderList />
}

function ProviderList () {
  const list = useLoad(() => unwrap(() => api.GET('/admin/identity-providers')))
  const [creating, setCreating] = useState(false)
  return (
    <>
      <h1 tabIndex={-1}>Identity providers</h1>
      <p>Upstream providers users can sign in with (“Continue with …” on the login page): OpenID Connect by discovery, or plain OAuth 2.</p>
      <div class="toolbar"><span /><button type="button" onClick={() => setCreating(true)}>Add an identity provider</button></div>
      {!list.data ? <Loading error={list.error} label="identity providers" /> : (
        <Table caption="Identity providers">
          <thead><tr><th scope="col">Name</th><th scope="col">Shown as</th><th scope="col">Kind</th><th scope="col">Issuer or endpoint</th><th scope="col">Client authentication</th><th scope="col">New users</th><th scope="col">Domains</th><th scope="col">Status</th></tr></thead>
          <tbody>
            {list.data.items.length === 0 && <tr><td colSpan={8}>No identity providers yet.</td></tr>}
            {list.data.items.map((p) => (
              <tr key={p.id} data-idp={p.slug}>
                <th scope="row"><a class="mono" href={`${BASE}/identity-providers?id=${encodeURIComponent(p.slug)}`} onClick={linkClick}>{p.slug}</a></th>
                <td>{p.display_name}</td>
                <td>{p.kind === 'oidc' ? 'OpenID Connect' : 'OAuth 2'}</td>
                <td class="mono">{p.issuer ?? p.authorization_endpoint ?? '—'}</td>
                <td>{p.auth_method}{p.auth_method !== 'none' && !p.credential_set && <span class="badge">no credential</span>}</td>
                <td>{p.jit ? 'created on first sign-in' : 'linked only'}</td>
                <td>{p.domains.join(', ') || '—'}</td>
                <td>{p.enabled ? 'enabled' : 'disabled'}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Dialog open={creating} title="Add an identity provider" onClose={() => setCreating(false)}>
        {creating && <ProviderForm onCancel={() => setCreating(false)} onSaved={(p) => { setCreating(false); navigate(`${BASE}/identity-providers?id=${encodeURIComponent(p.slug)}&created=1`) }} />}
      </Dialog>
    </>
  )
}

function ProviderForm ({ provider, onSaved, onCancel }: { provider?: Provider, onSaved: (p: Provider) => void, onCancel?: () => void }) {
  const p = provider
  const action = useAction()
  const [kind, setKind] = useState<'oidc' | 'oauth2'>(p?.kind ?? 'oidc')
  const [method, setMethod] = useState<AuthMethod>(p?.auth_method ?? 'client_secret_basic')
  async function submit (event: Event) {
    event.preventDefault()
    const v = formValues(event.currentTarget as HTMLFormElement)
    const claimMapping = Object.fromEntries(MAPPED.map((k) => [k, v[`claim_${k}`]?.trim()]).filter(([, value]) => value))
    const nullable = (value: string | undefined) => value?.trim() || null
    const settings = {
      display_name: v.display_name.trim(),
      kind,
      issuer: kind === 'oidc' ? nullable(v.issuer) : null,
      client_id: v.client_id.trim(),
      auth_method: method,
      scope: v.scope.trim(),
      authorization_endpoint: nullable(v.authorization_endpoint),
      token_endpoint: nullable(v.token_endpoint),
      userinfo_endpoint: nullable(v.userinfo_endpoint),
      emails_endpoint: kind === 'oauth2' ? nullable(v.emails_endpoint) : null,
      claim_mapping: claimMapping,
      jit: v.checked('jit'),
      domains: lines(v.domains),
      enabled: v.checked('enabled'),
      upstream_logout: kind === 'oidc' && v.checked('upstream_logout'),
      // Write-only: sent only when typed; an empty field keeps the stored one.
      ...(method === 'private_key_jwt' && v.private_key?.trim() ? { private_key: v.private_key.trim() } : {}),
      ...((method === 'client_secret_basic' || method === 'client_secret_post') && v.client_secret ? { client_secret: v.client_secret } : {}),
    }
    if (!settings.scope) delete (settings as { scope?: string }).scope
    const saved = await action.run(() => p
      ? unwrap(() => api.PATCH('/admin/identity-providers/{id}', { params: { path: { id: p.id } }, body: settings }))
      : unwrap(() => api.POST('/admin/identity-providers', { body: { ...settings, slug: v.slug.trim() } })))
    if (saved) onSaved(saved)
  }
  const secretMethod = method === 'client_secret_basic' || method === 'client_secret_post'
  return (
    <form onSubmit={submit} aria-label={p ? 'Identity provider settings' : 'New identity provider'}>
      <FormError error={action.error} />
      {!p && <Field label="Name" name="slug" required pattern="[a-z0-9][a-z0-9\-]{0,62}" hint="Lower-case letters, digits and hyphens; used in URLs and by `stamp idp`; cannot change later" autoComplete="off" />}
      <Field label="Display name" name="display_name" maxLength={64} defaultValue={p?.display_name} hint="The login page shows “Continue with …”; default: the name" />
      <Select label="Kind" name="kind" value={kind} onChange={(value) => setKind(value === 'oauth2' ? 'oauth2' : 'oidc')}
        hint={kind === 'oidc' ? 'OpenID Connect: endpoints and keys come from the issuer\'s discovery document; ID tokens are verified' : 'Plain OAuth 2 (e.g. GitHub): give the three endpoints and map the userinfo members below'}
        options={[['oidc', 'OpenID Connect'], ['oauth2', 'OAuth 2']]} />
      {kind === 'oidc' && <Field label="Issuer" name="issuer" type="url" required defaultValue={p?.issuer ?? ''} hint="https; its /.well-known/openid-configuration is read at sign-in" />}
      <fieldset>
        <legend>Endpoints{kind === 'oidc' ? ' (optional: override discovery)' : ''}</legend>
        <Field label="Authorization endpoint" name="authorization_endpoint" type="url" required={kind === 'oauth2'} defaultValue={p?.authorization_endpoint ?? ''} />
        <Field label="Token endpoint" name="token_endpoint" type="url" required={kind === 'oauth2'} defaultValue={p?.token_endpoint ?? ''} />
        <Field label="Userinfo endpoint" name="userinfo_endpoint" type="url" defaultValue={p?.userinfo_endpoint ?? ''} />
        {kind === 'oauth2' && <Field label="Emails endpoint" name="emails_endpoint" type="url" defaultValue={p?.emails_endpoint ?? ''} hint="Optional, GitHub: https://api.github.com/user/emails. Asked when userinfo has no email; the primary verified address is used" />}
      </fieldset>
      <fieldset>
        <legend>Stamp as a client of the provider</legend>
        <Field label="Client ID" name="client_id" required maxLength={512} defaultValue={p?.client_id} autoComplete="off" spellcheck={false} />
        <Select label="Client authentication" name="auth_method" value={method} onChange={(value) => setMethod(value as AuthMethod)}
          options={[['client_secret_basic', 'Client secret, HTTP Basic (client_secret_basic)'], ['client_secret_post', 'Client secret in the form (client_secret_post)'], ['private_key_jwt', 'Signed assertion (private_key_jwt)'], ['none', 'None (public client, PKCE only)']]} />
        {secretMethod && <Field label="Client secret" name="client_secret" type="password" required={!p || !p.credential_set || p.auth_method === 'private_key_jwt' || p.auth_method === 'none'} autoComplete="new-password"
          hint={p?.credential_set && (p.auth_method === 'client_secret_basic' || p.auth_method === 'client_secret_post') ? 'A secret is stored (sealed; never shown). Leave empty to keep it, or type a new one to replace it.' : 'Sealed at rest; never shown again'} />}
        {method === 'private_key_jwt' && <TextArea label="Private key (JWK, JSON)" name="private_key" rows={4} spellcheck={false} class="mono"
          hint={p?.credential_set && p.auth_method === 'private_key_jwt' ? 'A key is stored (sealed; never shown). Leave empty to keep it, or paste a new private JWK to replace it.' : 'A private JWK (RSA ≥ 2048, EC P-256 or Ed25519), sealed at rest; its public half is shown afterwards to register at the provider'} />}
        <Field label="Scope" name="scope" defaultValue={p?.scope} hint={kind === 'oidc' ? 'Space-separated, must include openid; default openid email profile' : 'Space-separated, e.g. read:user user:email'} />
      </fieldset>
      <fieldset>
        <legend>Claim mapping (optional)</legend>
        <p class="hint">Which upstream claim (or userinfo member; dotted paths reach nested objects) fills each field. Defaults: the OpenID Connect names; for OAuth 2, GitHub's (id, login, email, name).</p>
        {MAPPED.map((k) => <Field key={k} label={`Claim for ${k}`} name={`claim_${k}`} defaultValue={p?.claim_mapping[k] ?? ''} spellcheck={false} />)}
      </fieldset>
      <fieldset>
        <legend>Users and sign-in</legend>
        <Check label="Create a local user on the first sign-in (just in time)" name="jit" defaultChecked={p?.jit} hint="Otherwise only users who linked this provider from their account page can use it" />
        <TextArea label="Home-realm domains" name="domains" defaultValue={p?.domains.join('\n')} hint="One per line: a login_hint with one of these email domains goes straight to this provider" />
        {kind === 'oidc' && <Check label="Upstream logout" name="upstream_logout" defaultChecked={p?.upstream_logout} hint="Ending the Stamp session also ends the upstream one (its end_session_endpoint)" />}
        <Check label="Enabled" name="enabled" defaultChecked={p ? p.enabled : true} />
      </fieldset>
      <div class="actions">
        <button type="submit" disabled={action.busy}>{p ? 'Save changes' : 'Add provider'}</button>
        {onCancel && <button type="button" class="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  )
}

function ProviderDetail ({ id }: { id: string }) {
  const provider = useLoad(() => unwrap(() => api.GET('/admin/identity-providers/{id}', { params: { path: { id } } })), [id])
  const action = useAction()
  const [notice, setNotice] = useState<string | undefined>(new URL(location.href).searchParams.get('created') ? 'Identity provider added. Register the redirect URI below at the provider.' : undefined)
  const [deleting, setDeleting] = useState(false)
  const p = provider.data

  async function setEnabled (enabled: boolean) {
    const done = await action.run(() => unwrap(() => api.PATCH('/admin/identity-providers/{id}', { params: { path: { id: p!.id } }, body: { enabled } })))
    if (done) { setNotice(enabled ? 'Enabled: the login page offers it.' : 'Disabled: the login page no longer offers it; linked users keep their accounts.'); provider.reload() }
  }
  async function remove () {
    const done = await action.run(() => unwrap(() => api.DELETE('/admin/identity-providers/{id}', { params: { path: { id: p!.id } } })))
    setDeleting(false)
    if (done) navigate(`${BASE}/identity-providers`)
  }

  return (
    <>
      <p><a href={`${BASE}/identity-providers`} onClick={linkClick}>← All identity providers</a></p>
      <h1 tabIndex={-1}>Identity provider {p ? p.display_name : ''}</h1>
      {!p ? <Loading error={provider.error} label="the identity provider" /> : (
        <>
          <dl class="facts">
            <dt>Name</dt><dd class="mono">{p.slug}</dd>
            <dt>Kind</dt><dd>{p.kind === 'oidc' ? 'OpenID Connect' : 'OAuth 2'}</dd>
            <dt>Status</dt><dd data-testid="idp-status">{p.enabled ? 'enabled' : 'disabled'}</dd>
            <dt>Credential</dt><dd data-testid="idp-credential">{p.auth_method === 'none' ? 'none (public client)' : p.credential_set ? `${p.auth_method === 'private_key_jwt' ? 'private key' : 'client secret'} stored (sealed)` : 'missing'}</dd>
            <dt>Created</dt><dd><Time value={p.created_at} /></dd>
            <dt>Changed</dt><dd><Time value={p.updated_at} /></dd>
          </dl>
          <FormError error={deleting ? undefined : action.error} />
          {notice && <Alert kind="success">{notice}</Alert>}
          <CopyValue label="Redirect URI to register at the provider" value={p.redirect_uri} />
          {p.public_jwk && <CopyValue label="Public key (JWK) to register at the provider" value={JSON.stringify(p.public_jwk)} hint="The public half of the stored private key, for the provider's client registration" />}
          <div class="actions">
            {p.enabled
              ? <button type="button" class="secondary" disabled={action.busy} onClick={() => setEnabled(false)}>Disable</button>
              : <button type="button" disabled={action.busy} onClick={() => setEnabled(true)}>Enable</button>}
            <button type="button" class="danger" onClick={() => { setNotice(undefined); setDeleting(true) }}>Delete…</button>
          </div>
          <section aria-labelledby="idp-settings">
            <h2 id="idp-settings">Settings</h2>
            <ProviderForm provider={p} key={JSON.stringify(p)} onSaved={() => { setNotice('Saved.'); provider.reload() }} />
          </section>
        </>
      )}
      <Dialog open={deleting} title="Delete this identity provider?" onClose={() => setDeleting(false)}>
        {p && (
          <>
            <p>Deleting <code>{p.slug}</code> removes it from the login page and removes every user's link to it. Linked users keep their accounts, but cannot sign in through it any more.</p>
            <TypedConfirm word={p.slug} action="Delete provider" busy={action.busy} error={action.error} onConfirm={remove} onCancel={() => setDeleting(false)} />
          </>
        )}
      </Dialog>
    </>
  )
}
