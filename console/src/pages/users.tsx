/**
 * Users: search by username or email (GET /admin/users?q=, the page size the benchmark times),
 * create (password policy applies), and per user: email and scopes, disable/enable (disabling
 * signs them out everywhere), a password reset or a reset mail, their second factors
 * (./user_factors.tsx), sessions, refresh-token families, sign out everywhere, their consents
 * (listed, each withdrawable), and their linked upstream identities (each unlinkable).
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client.js'
import { Alert, Check, Dialog, Field, FormError, Loading, Pager, Select, Table, Time, formValues, useAction, useLoad, words } from '../components.js'
import { UserFactors } from './user_factors.js'
import { BASE, linkClick, navigate, withQuery } from '../router.js'
import type { PageProps } from '../routes.js'
import { FamilyTable } from './families.js'
import { SessionTable } from './sessions.js'

/** One page of the users list; bench/load.ts times GET /admin/users with this limit on 10,000 users. */
export const USER_PAGE_SIZE = 50
const ADMIN_SCOPE = 'stamp:admin'

export function UsersPage ({ url }: PageProps) {
  const id = url.searchParams.get('id')
  return id ? <UserDetail id={id} /> : <UserList url={url} />
}

function UserList ({ url }: { url: URL }) {
  const q = url.searchParams.get('q') ?? undefined
  const cursor = url.searchParams.get('cursor') ?? undefined
  const list = useLoad(() => unwrap(() => api.GET('/admin/users', { params: { query: { limit: USER_PAGE_SIZE, q, cursor } } })), [url.search])
  const [creating, setCreating] = useState(false)
  const create = useAction()
  async function submit (event: Event) {
    event.preventDefault()
    const v = formValues(event.currentTarget as HTMLFormElement)
    const user = await create.run(() => unwrap(() => api.POST('/admin/users', { body: { username: v.username.trim(), password: v.password, email: v.email.trim() || null, scopes: words(v.scopes), admin: v.checked('admin') } })))
    if (user) { setCreating(false); navigate(`${BASE}/users?id=${user.id}`) }
  }
  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <div class="toolbar">
        <form role="search" aria-label="Search users" key={q} onSubmit={(e) => { e.preventDefault(); navigate(withQuery(url, { q: formValues(e.currentTarget).q.trim(), cursor: undefined })) }}>
          <Field label="Search by username or email" name="q" type="search" defaultValue={q} />
          <button type="submit">Search</button>
        </form>
        <button type="button" onClick={() => setCreating(true)}>Create a user</button>
      </div>
      {!list.data ? <Loading error={list.error} label="users" /> : (
        <>
          <Table caption={q ? `Users matching “${q}”` : 'Users'}>
            <thead><tr><th scope="col">Username</th><th scope="col">Email</th><th scope="col">Scopes</th><th scope="col">Second factor</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {list.data.items.length === 0 && <tr><td colSpan={5}>No users match.</td></tr>}
              {list.data.items.map((u) => (
                <tr key={u.id}>
                  <th scope="row"><a href={`${BASE}/users?id=${u.id}`} onClick={linkClick}>{u.username}</a></th>
                  <td>{u.email ?? '—'}{u.email && !u.email_verified && <span class="badge">unverified</span>}</td>
                  <td>{u.scopes.includes(ADMIN_SCOPE) && <span class="badge">admin</span>} {u.scopes.filter((s) => s !== ADMIN_SCOPE).join(' ')}</td>
                  <td>{u.mfa_required ? 'required' : '—'}</td>
                  <td>{u.disabled ? 'disabled' : 'enabled'}</td>
                </tr>
              ))}
            </tbody>
          </Table>
          <Pager atFirst={!cursor} hasNext={list.data.next_cursor !== null} onFirst={() => navigate(withQuery(url, { cursor: undefined }))} onNext={() => navigate(withQuery(url, { cursor: list.data!.next_cursor! }))} />
        </>
      )}
      <Dialog open={creating} title="Create a user" onClose={() => setCreating(false)}>
        <form onSubmit={submit}>
          {create.error && <Alert>{create.error}</Alert>}
          <Field label="Username" name="username" required autoComplete="off" maxLength={128} />
          <Field label="Password" name="password" type="password" required autoComplete="new-password" hint="The password policy applies (length, no common passwords)" />
          <Field label="Email (optional)" name="email" type="email" autoComplete="off" />
          <Field label="Scopes" name="scopes" hint="Space-separated, beyond openid, profile, email and offline_access" />
          <Check label={`Administrator (grants ${ADMIN_SCOPE})`} name="admin" />
          <div class="actions">
            <button type="submit" disabled={create.busy}>Create</button>
            <button type="button" class="secondary" onClick={() => setCreating(false)}>Cancel</button>
          </div>
        </form>
      </Dialog>
    </>
  )
}

function UserDetail ({ id }: { id: string }) {
  const user = useLoad(() => unwrap(() => api.GET('/admin/users/{id}', { params: { path: { id } } })), [id])
  const sessions = useLoad(() => unwrap(() => api.GET('/admin/users/{id}/sessions', { params: { path: { id }, query: { limit: 50 } } })), [id])
  const families = useLoad(() => unwrap(() => api.GET('/admin/users/{id}/refresh-families', { params: { path: { id }, query: { limit: 50 } } })), [id])
  const consents = useLoad(() => unwrap(() => api.GET('/admin/users/{id}/consents', { params: { path: { id } } })), [id])
  const identities = useLoad(() => unwrap(() => api.GET('/admin/users/{id}/identities', { params: { path: { id } } })), [id])
  const action = useAction()
  const [notice, setNotice] = useState<string>()
  const [confirm, setConfirm] = useState<'disable' | 'sign-out'>()
  const u = user.data
  const reloadAll = () => { user.reload(); sessions.reload(); families.reload() }

  async function save (event: Event) {
    event.preventDefault()
    const v = formValues(event.currentTarget as HTMLFormElement)
    const done = await action.run(() => unwrap(() => api.PATCH('/admin/users/{id}', { params: { path: { id } }, body: { email: v.email.trim() || null, scopes: words(v.scopes) } })))
    if (done) { setNotice('Saved.'); user.reload() }
  }
  async function setDisabled (disabled: boolean) {
    setConfirm(undefined)
    const done = await action.run(() => unwrap(() => api.PATCH('/admin/users/{id}', { params: { path: { id } }, body: { disabled } })))
    if (done) { setNotice(disabled ? 'Disabled and signed out everywhere.' : 'Enabled.'); reloadAll() }
  }
  async function resetPassword (event: Event) {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const done = await action.run(() => unwrap(() => api.POST('/admin/users/{id}/password', { params: { path: { id } }, body: { password: formValues(form).password } })))
    if (done) { form.reset(); setNotice(`Password reset; ${done.ended_sessions} session(s) ended, ${done.revoked_families} refresh-token families revoked.`); reloadAll() }
  }
  async function signOutEverywhere () {
    setConfirm(undefined)
    const done = await action.run(() => unwrap(() => api.POST('/admin/users/{id}/sign-out', { params: { path: { id } } })))
    if (done) { setNotice(`Signed out everywhere: ${done.ended_sessions} session(s) ended, ${done.revoked_families} refresh-token families revoked.`); reloadAll() }
  }
  async function withdrawConsent (event: Event) {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const clientId = formValues(form).client_id.trim()
    const done = await action.run(() => unwrap(() => api.DELETE('/admin/users/{id}/consents/{clientId}', { params: { path: { id, clientId } } })))
    if (done) { form.reset(); consentWithdrawn(clientId, done) }
  }
  function consentWithdrawn (clientId: string, done: { revoked: boolean, refresh_families_revoked: number }) {
    setNotice(done.revoked ? `Consent for ${clientId} withdrawn; ${done.refresh_families_revoked} refresh-token families revoked.` : `There was no consent for ${clientId}; ${done.refresh_families_revoked} refresh-token families revoked.`)
    families.reload()
    consents.reload()
  }
  async function withdrawListed (clientId: string) {
    const done = await action.run(() => unwrap(() => api.DELETE('/admin/users/{id}/consents/{clientId}', { params: { path: { id, clientId } } })))
    if (done) consentWithdrawn(clientId, done)
  }
  async function unlink (linkId: string, provider: string) {
    const done = await action.run(() => unwrap(() => api.DELETE('/admin/users/{id}/identities/{linkId}', { params: { path: { id, linkId } } })))
    if (done) { setNotice(`Unlinked ${provider}.`); identities.reload() }
  }
  async function sendResetMail (event: Event) {
    event.preventDefault()
    const locale = formValues(event.currentTarget as HTMLFormElement).locale === 'de' ? 'de' : 'en'
    const done = await action.run(() => unwrap(() => api.POST('/admin/users/{id}/reset-email', { params: { path: { id } }, body: { locale } })))
    if (done) setNotice(done.sent ? `A password reset link was mailed to ${user.data?.email}. Nothing changes until the user follows it.` : 'No mail was sent: the per-address mail limit was reached. Try again later.')
  }

  return (
    <>
      <p><a href={`${BASE}/users`} onClick={linkClick}>← All users</a></p>
      <h1 tabIndex={-1}>User {u ? u.username : ''}</h1>
      {!u ? <Loading error={user.error} label="the user" /> : (
        <>
          <dl class="facts">
            <dt>ID</dt><dd class="mono">{u.id}</dd>
            <dt>Status</dt><dd>{u.disabled ? 'disabled' : 'enabled'}</dd>
            <dt>Email</dt><dd data-testid="email-state">{u.email ? <>{u.email} ({u.email_verified ? 'verified' : 'not verified'})</> : 'none'}</dd>
            <dt>Second factor</dt><dd>{u.mfa_required ? 'required at sign-in' : 'not required by an administrator'}</dd>
            <dt>Administrator</dt><dd>{u.scopes.includes(ADMIN_SCOPE) ? 'yes' : 'no'}</dd>
          </dl>
          <FormError error={action.error} />
          {notice && <Alert kind="success">{notice}</Alert>}
          <div class="actions">
            {u.disabled
              ? <button type="button" onClick={() => setDisabled(false)}>Enable</button>
              : <button type="button" class="danger" onClick={() => setConfirm('disable')}>Disable…</button>}
            <button type="button" class="secondary" onClick={() => setConfirm('sign-out')}>Sign out everywhere…</button>
          </div>
          <section aria-labelledby="profile">
            <h2 id="profile">Profile and scopes</h2>
            <form onSubmit={save} key={JSON.stringify(u)}>
              <Field label="Email" name="email" type="email" defaultValue={u.email ?? ''} />
              <Field label="Scopes" name="scopes" defaultValue={u.scopes.join(' ')} hint={`Space-separated; ${ADMIN_SCOPE} makes an administrator`} />
              <button type="submit" disabled={action.busy}>Save</button>
            </form>
          </section>
          <section aria-labelledby="password">
            <h2 id="password">Reset password</h2>
            <form onSubmit={resetPassword}>
              <Field label="New password" name="password" type="password" required autoComplete="new-password" hint="Signs the user out everywhere" />
              <button type="submit" disabled={action.busy}>Reset password</button>
            </form>
            <h3 id="reset-mail">Or let the user choose one</h3>
            <form onSubmit={sendResetMail} aria-labelledby="reset-mail">
              <p class="hint">Mails a single-use reset link, as “Forgot password?” does; nothing changes until the user follows it.{u.email ? '' : ' The user has no email address.'}</p>
              <Select label="Language of the mail" name="locale" defaultValue="en" options={[['en', 'English'], ['de', 'Deutsch']]} />
              <button type="submit" class="secondary" disabled={action.busy || !u.email || u.disabled}>Send a reset mail</button>
            </form>
          </section>
          <section aria-labelledby="factors">
            <h2 id="factors">Second factors</h2>
            <UserFactors id={id} username={u.username} onChanged={user.reload} />
          </section>
          <section aria-labelledby="sessions">
            <h2 id="sessions">Sessions</h2>
            <SessionTable caption={`Live sessions of ${u.username}`} result={sessions} />
          </section>
          <section aria-labelledby="families">
            <h2 id="families">Refresh-token families</h2>
            <FamilyTable caption={`Refresh-token families of ${u.username}`} result={families} />
          </section>
          <section aria-labelledby="consent">
            <h2 id="consent">Consents</h2>
            {!consents.data ? <Loading error={consents.error} label="consents" /> : (
              <Table caption={`Clients ${u.username} consented to`}>
                <thead><tr><th scope="col">Client</th><th scope="col">Scopes</th><th scope="col">Last changed</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                <tbody>
                  {consents.data.items.length === 0 && <tr><td colSpan={4}>No remembered consents.</td></tr>}
                  {consents.data.items.map((c) => (
                    <tr key={c.client_id}>
                      <th scope="row"><a class="mono" href={`${BASE}/clients?id=${encodeURIComponent(c.client_id)}`} onClick={linkClick}>{c.client_id}</a></th>
                      <td>{c.scopes.join(' ')}</td>
                      <td><Time value={c.updated_at} /></td>
                      <td><button type="button" class="secondary" disabled={action.busy} onClick={() => withdrawListed(c.client_id)}>Withdraw<span class="sr-only"> consent for {c.client_id}</span></button></td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            )}
            <h3 id="consent-any">Withdraw for any client</h3>
            <form onSubmit={withdrawConsent} aria-labelledby="consent-any">
              <Field label="Client ID" name="client_id" required hint="The user is asked again next time; the client's refresh tokens for this user are revoked" />
              <button type="submit" class="secondary" disabled={action.busy}>Withdraw consent</button>
            </form>
          </section>
          <section aria-labelledby="identities">
            <h2 id="identities">Linked identity providers</h2>
            {!identities.data ? <Loading error={identities.error} label="linked identities" /> : (
              <Table caption={`Upstream identities linked to ${u.username}`}>
                <thead><tr><th scope="col">Provider</th><th scope="col">Upstream subject</th><th scope="col">Email</th><th scope="col">Linked</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
                <tbody>
                  {identities.data.items.length === 0 && <tr><td colSpan={6}>No linked identity providers.</td></tr>}
                  {identities.data.items.map((l) => (
                    <tr key={l.id}>
                      <th scope="row">{l.provider_display_name ?? l.provider ?? l.provider_id}</th>
                      <td class="mono">{l.subject}</td>
                      <td>{l.email ?? '—'}</td>
                      <td><Time value={l.created_at} /></td>
                      <td>{l.last_used_at ? <Time value={l.last_used_at} /> : 'never'}</td>
                      <td><button type="button" class="secondary" disabled={action.busy} onClick={() => unlink(l.id, l.provider_display_name ?? l.provider ?? l.provider_id)}>Unlink<span class="sr-only"> {l.provider_display_name ?? l.provider}</span></button></td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            )}
          </section>
        </>
      )}
      <Dialog open={confirm !== undefined} title={confirm === 'disable' ? 'Disable this user?' : 'Sign this user out everywhere?'} onClose={() => setConfirm(undefined)}>
        <p>{confirm === 'disable' ? 'A disabled user cannot sign in; their sessions end and their refresh tokens are revoked.' : 'Every session ends and every refresh token of this user is revoked.'}</p>
        <div class="actions">
          <button type="button" class="danger" onClick={() => confirm === 'disable' ? setDisabled(true) : signOutEverywhere()}>{confirm === 'disable' ? 'Disable' : 'Sign out everywhere'}</button>
          <button type="button" class="secondary" onClick={() => setConfirm(undefined)}>Cancel</button>
        </div>
      </Dialog>
    </>
  )
}
