/**
 * Invitations (SIGNUP=invite; also usable under `open`): invite someone by email (POST
 * /admin/invites: mailed, and the single-use link shown once with a copy button, for handing
 * it over another way), list the unused ones (GET /admin/invites), withdraw one (DELETE
 * /admin/invites/{id}). The sign-up mode in force comes from GET /admin/config.
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Dialog, Field, FormError, Loading, SecretOnce, Select, Table, Time, formValues, useAction, useLoad, words } from '../components.js'
import type { PageProps } from '../routes.js'

type Invite = Ok<'/admin/invites', 'get'>['items'][number]

const MODE_TEXT: Record<string, string> = {
  off: 'Sign-up is off (SIGNUP=off): invitation links are refused at /signup until SIGNUP is invite or open.',
  invite: 'Sign-up needs an invitation (SIGNUP=invite): only these links open /signup.',
  open: 'Sign-up is open to anyone (SIGNUP=open); an invitation also grants its scopes and proves the address.',
}

export function InvitesPage (_props: PageProps) {
  const invites = useLoad(() => unwrap(() => api.GET('/admin/invites')))
  const config = useLoad(() => unwrap(() => api.GET('/admin/config')))
  const create = useAction()
  const action = useAction()
  const [created, setCreated] = useState<Ok<'/admin/invites', 'post'>>()
  const [withdrawing, setWithdrawing] = useState<Invite>()
  const [notice, setNotice] = useState<string>()
  const mode = config.data?.settings.find((s) => s.name === 'SIGNUP')?.value

  async function submit (event: Event) {
    event.preventDefault()
    const form = event.currentTarget as HTMLFormElement
    const v = formValues(form)
    const invite = await create.run(() => unwrap(() => api.POST('/admin/invites', { body: { email: v.email.trim(), scopes: words(v.scopes), locale: v.locale === 'de' ? 'de' : 'en' } })))
    if (invite) { form.reset(); setCreated(invite); invites.reload() }
  }
  async function withdraw () {
    const target = withdrawing
    setWithdrawing(undefined)
    if (!target) return
    const done = await action.run(async () => { await unwrap(() => api.DELETE('/admin/invites/{id}', { params: { path: { id: target.id } } })); return true })
    if (done) { setNotice(`The invitation for ${target.email} was withdrawn; its link no longer works.`); invites.reload() }
  }

  return (
    <>
      <h1 tabIndex={-1}>Invitations</h1>
      {typeof mode === 'string' && <Alert kind="info">{MODE_TEXT[mode] ?? `SIGNUP=${mode}`}</Alert>}
      <section aria-labelledby="invite">
        <h2 id="invite">Invite someone</h2>
        <form onSubmit={submit}>
          <FormError error={create.error} />
          <Field label="Email" name="email" type="email" required autoComplete="off" hint="The link is mailed here; signing up with it proves this address" />
          <Field label="Scopes" name="scopes" hint="Space-separated scopes the new user gets, beyond openid, profile, email and offline_access" />
          <Select label="Language of the mail" name="locale" defaultValue="en" options={[['en', 'English'], ['de', 'Deutsch']]} />
          <button type="submit" disabled={create.busy}>Send invitation</button>
        </form>
      </section>
      <section aria-labelledby="open-invites">
        <h2 id="open-invites">Unused invitations</h2>
        <FormError error={action.error} />
        {notice && <Alert kind="success">{notice}</Alert>}
        {!invites.data ? <Loading error={invites.error} label="invitations" /> : (
          <Table caption="Unused, unexpired invitations">
            <thead><tr><th scope="col">Email</th><th scope="col">Scopes</th><th scope="col">Invited by</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {invites.data.items.length === 0 && <tr><td colSpan={6}>No open invitations.</td></tr>}
              {invites.data.items.map((i) => (
                <tr key={i.id} data-invite={i.id}>
                  <th scope="row">{i.email}</th>
                  <td>{i.scopes.join(' ') || '—'}</td>
                  <td class="mono">{i.created_by ?? '—'}</td>
                  <td><Time value={i.created_at} /></td>
                  <td><Time value={i.expires_at} /></td>
                  <td><button type="button" class="secondary" onClick={() => { setNotice(undefined); setWithdrawing(i) }}>Withdraw<span class="sr-only"> the invitation for {i.email}</span>…</button></td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </section>
      <Dialog open={created !== undefined} title="Invitation sent" onClose={() => setCreated(undefined)}>
        {created && (
          <>
            <p>An invitation was mailed to <strong>{created.email}</strong>; it expires <Time value={created.expires_at} />.</p>
            <SecretOnce label="Invitation link" value={created.invite_url} />
            <div class="actions"><button type="button" onClick={() => setCreated(undefined)}>Done</button></div>
          </>
        )}
      </Dialog>
      <Dialog open={withdrawing !== undefined} title="Withdraw this invitation?" onClose={() => setWithdrawing(undefined)}>
        <p>The link sent to <strong>{withdrawing?.email}</strong> stops working at once.</p>
        <div class="actions">
          <button type="button" class="danger" onClick={withdraw}>Withdraw invitation</button>
          <button type="button" class="secondary" onClick={() => setWithdrawing(undefined)}>Cancel</button>
        </div>
      </Dialog>
    </>
  )
}
