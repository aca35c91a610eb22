/**
 * Clients: search (GET /admin/clients?q=), register with every option `stamp client create` has
 * (POST /admin/clients; a confidential client's secret shown once with a copy button), edit
 * (PATCH), rotate the secret (POST …/secret, shown once), revoke, delete behind a confirmation,
 * the client's refresh-token families, and the purge of unused self-registered clients.
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Check, Dialog, Field, FormError, Loading, Pager, SecretOnce, Select, Table, TextArea, Time, TypedConfirm, formValues, lines, useAction, useLoad, words } from '../components.js'
import { BASE, linkClick, navigate, withQuery } from '../router.js'
import type { PageProps } from '../routes.js'
import { FamilyTable } from './families.js'

type Client = Ok<'/admin/clients/{id}', 'get'>

export const CLIENT_PAGE_SIZE = 50
/** The grant types Stamp's registry serves (src/grants); refresh_token comes with the sign-in grants. */
export const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code'
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const GRANTS = [
  { value: 'authorization_code', label: 'Authorization code (sign-in in a browser)' },
  { value: 'client_credentials', label: 'Client credentials (service to service)' },
  { value: 'refresh_token', label: 'Refresh token' },
  { value: DEVICE_CODE, label: 'Device authorization (RFC 8628: TVs, command lines)' },
  { value: TOKEN_EXCHANGE, label: 'Token exchange (RFC 8693: needs exchange audiences)' },
  { value: 'password', label: 'Password (first-party only; legacy)' },
]
const GRANT_NAMES: Record<string, string> = { [DEVICE_CODE]: 'device_code', [TOKEN_EXCHANGE]: 'token-exchange' }
const grantName = (g: string) => GRANT_NAMES[g] ?? g

/** The JWK Set typed into the form, or a sentence saying what is wrong with it. */
function parseJWKS (text: string): { jwks: Client['jwks'] } | { problem: string } {
  if (!text.trim()) return { jwks: null }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { problem: `JWKS is not valid JSON: ${(err as Error).message}` }
  }
  if (!value || typeof value !== 'object' || !Array.isArray((value as { keys?: unknown }).keys)) return { problem: 'JWKS must be a JSON object with a "keys" array (RFC 7517 §5)' }
  return { jwks: value as Client['jwks'] }
}

export function ClientsPage ({ url }: PageProps) {
  const id = url.searchParams.get('id')
  return id ? <ClientDetail id={id} url={url} /> : <ClientList url={url} />
}

function ClientList ({ url }: { url: URL }) {
  const q = url.searchParams.get('q') ?? undefined
  const cursor = url.searchParams.get('cursor') ?? undefined
  const originParam = url.searchParams.get('origin')
  const origin = originParam === 'admin' || originParam === 'dcr' || originParam === 'cimd' ? originParam : undefined
  const list = useLoad(() => unwrap(() => api.GET('/admin/clients', { params: { query: { limit: CLIENT_PAGE_SIZE, q, origin, cursor } } })), [url.search])
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<Ok<'/admin/clients', 'post'>>()
  return (
    <>
      <h1 tabIndex={-1}>Clients</h1>
      <div class="toolbar">
        <form role="search" aria-label="Search clients" key={url.search} onSubmit={(e) => { e.preventDefault(); const v = formValues(e.currentTarget); navigate(withQuery(url, { q: v.q.trim(), origin: v.origin, cursor: undefined })) }}>
          <Field label="Search by client ID or name" name="q" type="search" defaultValue={q} />
          <div class="field">
            <label for="client-origin">Origin</label>
            <select id="client-origin" name="origin" defaultValue={origin ?? ''}>
              <option value="">Any</option>
              <option value="admin">Registered by admins</option>
              <option value="dcr">Dynamic registration</option>
              <option value="cimd">Metadata documents</option>
            </select>
          </div>
          <button type="submit">Search</button>
        </form>
        <button type="button" onClick={() => setCreating(true)}>Register a client</button>
      </div>
      {!list.data ? <Loading error={list.error} label="clients" /> : (
        <>
          <Table caption={q ? `Clients matching “${q}”` : 'Clients'}>
            <thead><tr><th scope="col">Client ID</th><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Grants</th><th scope="col">Origin</th><th scope="col">Last used</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {list.data.items.length === 0 && <tr><td colSpan={7}>No clients match.</td></tr>}
              {list.data.items.map((c) => (
                <tr key={c.client_id}>
                  <th scope="row"><a class="mono" href={`${BASE}/clients?id=${encodeURIComponent(c.client_id)}`} onClick={linkClick}>{c.client_id}</a></th>
                  <td>{c.name}</td>
                  <td>{c.public ? 'public' : 'confidential'}{c.first_party ? ', first-party' : ''}</td>
                  <td>{c.grant_types.map(grantName).join(', ')}</td>
                  <td>{c.origin}</td>
                  <td><Time value={c.last_used_at} /></td>
                  <td>{c.revoked_at ? 'revoked' : c.disabled ? 'disabled' : 'enabled'}</td>
                </tr>
              ))}
            </tbody>
          </Table>
          <Pager atFirst={!cursor} hasNext={list.data.next_cursor !== null} onFirst={() => navigate(withQuery(url, { cursor: undefined }))} onNext={() => navigate(withQuery(url, { cursor: list.data!.next_cursor! }))} />
        </>
      )}
      <PurgeForm onDone={list.reload} />
      <Dialog open={creating} title="Register a client" onClose={() => setCreating(false)}>
        {creating && <ClientForm mode="create" onCancel={() => setCreating(false)} onSaved={(client) => { setCreating(false); setCreated(client as Ok<'/admin/clients', 'post'>); list.reload() }} />}
      </Dialog>
      <Dialog open={created !== undefined} title="Client registered" onClose={() => setCreated(undefined)}>
        {created && (
          <>
            <p>Client <code data-testid="created-client-id">{created.client_id}</code> ({created.name}) is registered.</p>
            {created.client_secret ? <SecretOnce label="Client secret" value={created.client_secret} /> : <p data-testid="no-secret">{created.public ? 'A public client has no secret.' : 'No secret: this client signs JWT assertions (private_key_jwt) with a key of its JWKS.'}</p>}
            <div class="actions">
              <button type="button" onClick={() => setCreated(undefined)}>Done</button>
              <a href={`${BASE}/clients?id=${encodeURIComponent(created.client_id)}`} onClick={(e) => { setCreated(undefined); linkClick(e) }}>Open the client</a>
            </div>
          </>
        )}
      </Dialog>
    </>
  )
}

type SigningAlg = NonNullable<Client['request_object_signing_alg']>
const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'PS256', 'ES256', 'EdDSA']

/** The choices of a signing-algorithm select: any, or one algorithm (FAPI 2.0 §5.4.1: not RS256). */
function signingAlgOptions (fapi: boolean): Array<readonly [string, string]> {
  return [['', 'Any accepted'], ...SIGNING_ALGS.filter((a) => !fapi || a !== 'RS256').map((a) => [a, a] as const)]
}

function signingAlg (value: string): SigningAlg | null {
  return SIGNING_ALGS.find((a) => a === value) ?? null
}

function ClientForm ({ mode, client, onSaved, onCancel }: { mode: 'create' | 'edit', client?: Client, onSaved: (client: Client) => void, onCancel?: () => void }) {
  const action = useAction()
  const c = client
  const [isPublic, setPublic] = useState(c?.public ?? false)
  const [method, setMethod] = useState(c && c.token_endpoint_auth_method === 'private_key_jwt' ? 'private_key_jwt' : 'client_secret_basic')
  const [profile, setProfile] = useState(c?.profile ?? '')
  const fapi = profile === 'fapi2'
  async function submit (event: Event) {
    event.preventDefault()
    const v = formValues(event.currentTarget as HTMLFormElement)
    const keys = parseJWKS(v.jwks)
    if ('problem' in keys) { action.setError(keys.problem); return }
    const settings = {
      name: v.name.trim(),
      grant_types: v.all('grant_types'),
      redirect_uris: lines(v.redirect_uris),
      post_logout_redirect_uris: lines(v.post_logout_redirect_uris),
      backchannel_logout_uri: v.backchannel_logout_uri.trim() || null,
      scopes: words(v.scopes),
      audiences: lines(v.audiences),
      exchange_audiences: lines(v.exchange_audiences),
      first_party: v.checked('first_party'),
      require_pkce: v.checked('require_pkce'),
      require_mfa: v.checked('require_mfa'),
      require_pushed_authorization_requests: v.checked('require_pushed_authorization_requests'),
      dpop_bound_access_tokens: v.checked('dpop_bound_access_tokens'),
      profile: fapi ? 'fapi2' as const : null,
      // Both are sent: setting one replaces the other (RFC 7591 §2: never both).
      jwks: keys.jwks,
      jwks_uri: v.jwks_uri.trim() || null,
      ...(isPublic ? {} : { token_endpoint_auth_method: method as 'client_secret_basic' | 'private_key_jwt' }),
      token_endpoint_auth_signing_alg: method === 'private_key_jwt' && !isPublic ? signingAlg(v.token_endpoint_auth_signing_alg) : null,
      request_object_signing_alg: signingAlg(v.request_object_signing_alg),
    }
    const saved = await action.run(() => mode === 'create'
      ? unwrap(() => api.POST('/admin/clients', { body: { ...settings, public: isPublic, ...(v.client_id.trim() ? { client_id: v.client_id.trim() } : {}) } }))
      : unwrap(() => api.PATCH('/admin/clients/{id}', { params: { path: { id: client!.client_id } }, body: { ...settings, disabled: v.checked('disabled') } })))
    if (saved) onSaved(saved)
  }
  return (
    <form onSubmit={submit} class="client-form" aria-label={mode === 'create' ? 'New client' : 'Client settings'}>
      <FormError error={action.error} />
      <Field label="Name" name="name" required maxLength={200} defaultValue={c?.name} />
      {mode === 'create' && <Field label="Client ID (optional)" name="client_id" hint="Generated when empty; letters, digits and . _ ~ -" pattern="[A-Za-z0-9._~\-]{1,128}" />}
      <fieldset>
        <legend>Grant types</legend>
        {GRANTS.map((g) => <Check key={g.value} label={g.label} name="grant_types" value={g.value} defaultChecked={c ? c.grant_types.includes(g.value) : g.value === 'client_credentials'} />)}
      </fieldset>
      <TextArea label="Redirect URIs" name="redirect_uris" hint="One per line; https, or http on loopback" defaultValue={c?.redirect_uris.join('\n')} />
      <TextArea label="Post-logout redirect URIs" name="post_logout_redirect_uris" hint="One per line" defaultValue={c?.post_logout_redirect_uris.join('\n')} />
      <Field label="Back-channel logout URI" name="backchannel_logout_uri" type="url" defaultValue={c?.backchannel_logout_uri ?? ''} />
      <Field label="Scopes" name="scopes" hint="Space-separated, e.g. openid profile read" defaultValue={c?.scopes.join(' ')} />
      <TextArea label="Audiences" name="audiences" hint="Resource URIs (RFC 8707), one per line; none means tokens for Stamp itself" defaultValue={c?.audiences.join('\n')} />
      <TextArea label="Exchange audiences" name="exchange_audiences" hint="Token exchange (RFC 8693): the audiences this client may exchange tokens for, one per line" defaultValue={c?.exchange_audiences.join('\n')} />
      {mode === 'create' && <Check label="Public client (no secret: browser or native app)" name="public" checked={isPublic} onChange={(e) => setPublic(e.currentTarget.checked)} />}
      <fieldset>
        <legend>Client authentication and keys</legend>
        {isPublic
          ? <p class="hint">A public client does not authenticate at the token endpoint (PKCE protects its codes).</p>
          : <Select label="Token endpoint authentication" name="token_endpoint_auth_method" value={method} onChange={setMethod}
              hint={method === 'private_key_jwt' ? 'No secret: the client signs a JWT assertion (RFC 7523) with a key of its JWKS. Moving an existing client here discards its secret.' : 'A secret, sent with HTTP Basic or in the form (client_secret_post). Moving back from private_key_jwt: rotate the secret to issue one.'}
              options={[['client_secret_basic', 'Client secret (client_secret_basic or client_secret_post)'], ['private_key_jwt', 'Signed assertion (private_key_jwt)']]} />}
        <TextArea label="JWKS (public keys, JSON)" name="jwks" rows={5} spellcheck={false} class="mono" hint='A JWK Set, e.g. {"keys":[{"kty":"EC","crv":"P-256","x":"…","y":"…","kid":"k1"}]}; private members are refused. For private_key_jwt and signed request objects.' defaultValue={c?.jwks ? JSON.stringify(c.jwks, null, 2) : ''} />
        <Field label="JWKS URI" name="jwks_uri" type="url" hint="Or where Stamp fetches the keys (https); give one of JWKS and JWKS URI, not both" defaultValue={c?.jwks_uri ?? ''} />
        {method === 'private_key_jwt' && !isPublic && <Select label="Assertion signing algorithm" name="token_endpoint_auth_signing_alg" defaultValue={c?.token_endpoint_auth_signing_alg ?? ''}
          hint="The only algorithm its client assertions may use (token_endpoint_auth_signing_alg); any accepted when unset" options={signingAlgOptions(fapi)} />}
        <Select label="Request object signing algorithm" name="request_object_signing_alg" defaultValue={c?.request_object_signing_alg ?? ''}
          hint="The only algorithm its signed request objects (RFC 9101) may use (request_object_signing_alg); any accepted when unset" options={signingAlgOptions(fapi)} />
      </fieldset>
      <fieldset>
        <legend>Security</legend>
        <Select label="Security profile" name="profile" value={profile} onChange={setProfile}
          hint={fapi ? 'FAPI 2.0 Security Profile: needs private_key_jwt; turns on PAR, PKCE and DPoP; PS256, ES256 and EdDSA only' : 'No profile: each option below applies as set'}
          options={[['', 'None'], ['fapi2', 'FAPI 2.0 Security Profile']]} />
        <Check label="Require PKCE (S256)" name="require_pkce" hint="Always on for public clients and the FAPI 2.0 profile" defaultChecked={c ? c.require_pkce : true} />
        <Check label="Require pushed authorization requests (PAR, RFC 9126)" name="require_pushed_authorization_requests" hint="Authorization requests must come through /par" defaultChecked={c?.require_pushed_authorization_requests} />
        <Check label="DPoP-bound access tokens (RFC 9449)" name="dpop_bound_access_tokens" hint="Token requests without a DPoP proof are refused" defaultChecked={c?.dpop_bound_access_tokens} />
        <Check label="Require a second factor from users signing in" name="require_mfa" hint="A user without one enrols at sign-in" defaultChecked={c?.require_mfa} />
        <Check label="First-party (never asks users for consent)" name="first_party" defaultChecked={c?.first_party} />
      </fieldset>
      {mode === 'edit' && <Check label="Disabled (refused everywhere; revokes its refresh tokens)" name="disabled" defaultChecked={c?.disabled} />}
      <div class="actions">
        <button type="submit" disabled={action.busy}>{mode === 'create' ? 'Register' : 'Save changes'}</button>
        {onCancel && <button type="button" class="secondary" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  )
}

function ClientDetail ({ id, url }: { id: string, url: URL }) {
  const client = useLoad(() => unwrap(() => api.GET('/admin/clients/{id}', { params: { path: { id } } })), [id])
  const families = useLoad(() => unwrap(() => api.GET('/admin/clients/{id}/refresh-families', { params: { path: { id }, query: { limit: 50 } } })), [id])
  const action = useAction()
  const [notice, setNotice] = useState<string>()
  const [secret, setSecret] = useState<string>()
  const [confirm, setConfirm] = useState<'delete' | 'rotate' | 'revoke'>()
  const c = client.data

  async function rotateSecret () {
    setConfirm(undefined)
    const result = await action.run(() => unwrap(() => api.POST('/admin/clients/{id}/secret', { params: { path: { id } } })))
    if (result) setSecret(result.client_secret)
  }
  async function remove () {
    setConfirm(undefined)
    const done = await action.run(async () => { await unwrap(() => api.DELETE('/admin/clients/{id}', { params: { path: { id } } })); return true })
    if (done) navigate(`${BASE}/clients`)
  }
  async function revoke () {
    setConfirm(undefined)
    const result = await action.run(() => unwrap(() => api.POST('/admin/clients/revoke', { body: { client_id: id } })))
    if (result) { setNotice(`Revoked; ${result.refresh_families_revoked} refresh-token families revoked.`); client.reload(); families.reload() }
  }

  return (
    <>
      <p><a href={`${BASE}/clients`} onClick={linkClick}>← All clients</a></p>
      <h1 tabIndex={-1}>Client <code>{id}</code></h1>
      {!c ? <Loading error={client.error} label="the client" /> : (
        <>
          <dl class="facts">
            <dt>Type</dt><dd>{c.public ? 'public' : 'confidential'}{c.first_party ? ', first-party' : ''}</dd>
            <dt>Origin</dt><dd>{c.origin}</dd>
            <dt>Authentication</dt><dd data-testid="auth-method">{c.token_endpoint_auth_method}</dd>
            <dt>Keys</dt><dd>{c.jwks ? `${c.jwks.keys.length} key(s) inline` : c.jwks_uri ? <code>{c.jwks_uri}</code> : 'none'}</dd>
            <dt>Signing algorithms</dt><dd data-testid="signing-algs">assertions {c.token_endpoint_auth_signing_alg ?? 'any'}, request objects {c.request_object_signing_alg ?? 'any'}</dd>
            <dt>Grants</dt><dd>{c.grant_types.map(grantName).join(', ') || 'none'}</dd>
            <dt>Profile</dt><dd>{c.profile === 'fapi2' ? 'FAPI 2.0 Security Profile' : 'none'}</dd>
            <dt>Sender-constrained</dt><dd data-testid="dpop">{c.dpop_bound_access_tokens ? 'DPoP required' : 'no (Bearer tokens)'}</dd>
            <dt>PAR</dt><dd>{c.require_pushed_authorization_requests ? 'required' : 'optional'}</dd>
            <dt>Second factor</dt><dd>{c.require_mfa ? 'required of its users' : 'as the user requires'}</dd>
            {c.exchange_audiences.length > 0 && <><dt>Exchange audiences</dt><dd>{c.exchange_audiences.join(', ')}</dd></>}
            <dt>Created</dt><dd><Time value={c.created_at} /></dd>
            <dt>Last used</dt><dd><Time value={c.last_used_at} /></dd>
            <dt>Status</dt><dd>{c.revoked_at ? <>revoked <Time value={c.revoked_at} /></> : c.disabled ? 'disabled' : 'enabled'}</dd>
          </dl>
          {action.error && <Alert>{action.error}</Alert>}
          {notice && <Alert kind="success">{notice}</Alert>}
          {secret && <SecretOnce label="New client secret" value={secret} />}
          <div class="actions">
            {!c.public && c.token_endpoint_auth_method !== 'private_key_jwt' && <button type="button" onClick={() => setConfirm('rotate')}>Rotate secret…</button>}
            {!c.revoked_at && <button type="button" class="secondary" onClick={() => setConfirm('revoke')}>Revoke…</button>}
            <button type="button" class="danger" onClick={() => setConfirm('delete')}>Delete…</button>
          </div>
          <section aria-labelledby="settings">
            <h2 id="settings">Settings</h2>
            <ClientForm mode="edit" client={c} key={JSON.stringify(c)} onSaved={() => { setNotice('Saved.'); client.reload() }} />
          </section>
          <section aria-labelledby="families">
            <h2 id="families">Refresh-token families</h2>
            <FamilyTable caption={`Refresh-token families of ${id}`} result={families} />
          </section>
        </>
      )}
      <Dialog open={confirm !== undefined} title={confirm === 'delete' ? 'Delete this client?' : confirm === 'rotate' ? 'Rotate the secret?' : 'Revoke this client?'} onClose={() => setConfirm(undefined)}>
        <p>
          {confirm === 'delete' && <>Deleting <code>{id}</code> removes it and revokes its refresh tokens. Applications using it stop working. This cannot be undone.</>}
          {confirm === 'rotate' && <>The current secret of <code>{id}</code> stops working at once (within 5 s on other instances). The new one is shown once.</>}
          {confirm === 'revoke' && <>Revoking refuses <code>{id}</code> everywhere and revokes its refresh tokens; it stays listed.</>}
        </p>
        {confirm === 'delete'
          ? <TypedConfirm word={id} action="Delete client" onConfirm={remove} onCancel={() => setConfirm(undefined)} />
          : (
            <div class="actions">
              <button type="button" class={confirm === 'rotate' ? '' : 'danger'} onClick={confirm === 'rotate' ? rotateSecret : revoke}>
                {confirm === 'rotate' ? 'Rotate secret' : 'Revoke client'}
              </button>
              <button type="button" class="secondary" onClick={() => setConfirm(undefined)}>Cancel</button>
            </div>
          )}
      </Dialog>
      <span hidden>{url.search}</span>
    </>
  )
}

function PurgeForm ({ onDone }: { onDone: () => void }) {
  const action = useAction()
  const [result, setResult] = useState<string>()
  async function submit (event: Event) {
    event.preventDefault()
    const v = formValues(event.currentTarget as HTMLFormElement)
    const origins = v.all('origins') as Array<'dcr' | 'cimd'>
    const purged = await action.run(() => unwrap(() => api.POST('/admin/clients/purge', { body: { unused_days: Number(v.unused_days), ...(origins.length ? { origins } : {}) } })))
    if (purged) { setResult(`${purged.purged.length} client(s) purged.`); onDone() }
  }
  return (
    <details class="purge">
      <summary>Purge unused self-registered clients</summary>
      <form onSubmit={submit}>
        {action.error && <Alert>{action.error}</Alert>}
        {result && <Alert kind="success">{result}</Alert>}
        <Field label="Unused for at least (days)" name="unused_days" type="number" min={1} max={3650} required defaultValue="90" />
        <fieldset>
          <legend>Origins</legend>
          <Check label="Dynamic registration (RFC 7591)" name="origins" value="dcr" defaultChecked />
          <Check label="Client ID metadata documents" name="origins" value="cimd" defaultChecked />
        </fieldset>
        <button type="submit" class="danger" disabled={action.busy}>Purge</button>
      </form>
    </details>
  )
}
