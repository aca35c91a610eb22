/**
 * Look up one SSO session by its `sid` (GET /admin/sessions/{sid}: also ended or expired ones,
 * as a token's or an audit event's `sid` names them) or one refresh-token family by its id
 * (GET /admin/refresh-families/{familyId}), and end or revoke it. Shown on the sessions page.
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Field, FormError, Time, formValues, useAction } from '../components.js'
import { BASE, linkClick } from '../router.js'

type Session = Ok<'/admin/sessions/{sid}', 'get'>
type Family = Ok<'/admin/refresh-families/{familyId}', 'get'>

export function Lookup () {
  const action = useAction()
  const [session, setSession] = useState<Session>()
  const [family, setFamily] = useState<Family>()
  const [notice, setNotice] = useState<string>()

  async function findSession (event: Event) {
    event.preventDefault()
    const sid = formValues(event.currentTarget as HTMLFormElement).sid.trim()
    setNotice(undefined)
    setSession(await action.run(() => unwrap(() => api.GET('/admin/sessions/{sid}', { params: { path: { sid } } }))))
  }
  async function findFamily (event: Event) {
    event.preventDefault()
    const familyId = formValues(event.currentTarget as HTMLFormElement).family_id.trim()
    setNotice(undefined)
    setFamily(await action.run(() => unwrap(() => api.GET('/admin/refresh-families/{familyId}', { params: { path: { familyId } } }))))
  }
  async function endSession (sid: string) {
    const done = await action.run(() => unwrap(() => api.DELETE('/admin/sessions/{sid}', { params: { path: { sid } } })))
    if (done) { setSession(done); setNotice('Session ended.') }
  }
  async function revokeFamily (familyId: string) {
    const done = await action.run(() => unwrap(() => api.POST('/admin/refresh-families/{familyId}/revoke', { params: { path: { familyId } } })))
    if (done) { setFamily(done); setNotice('Refresh-token family revoked.') }
  }

  return (
    <section aria-labelledby="lookup">
      <h2 id="lookup">Look up</h2>
      <p>A session by its <code>sid</code> (the claim in ID, access and logout tokens; also ended or expired sessions), or a refresh-token family by its id (audit events name both).</p>
      <FormError error={action.error} />
      {notice && <Alert kind="success">{notice}</Alert>}
      <div class="lookup">
        <form onSubmit={findSession} aria-label="Find a session">
          <Field label="Session ID (sid)" name="sid" required pattern="[A-Za-z0-9_\-]{1,128}" spellcheck={false} autoComplete="off" />
          <button type="submit" class="secondary" disabled={action.busy}>Find session</button>
          {session && (
            <dl class="facts" data-testid="found-session">
              <dt>User</dt><dd><a class="mono" href={`${BASE}/users?id=${session.user_id}`} onClick={linkClick}>{session.user_id}</a></dd>
              <dt>Signed in</dt><dd><Time value={session.auth_time} /></dd>
              <dt>Expires</dt><dd><Time value={session.expires_at} /></dd>
              <dt>State</dt><dd>{session.ended_at ? <>ended <Time value={session.ended_at} /></> : new Date(session.expires_at) < new Date() ? 'expired' : 'live'}</dd>
              <dt>Clients</dt><dd>{session.client_ids.join(', ') || '—'}</dd>
            </dl>
          )}
          {session && !session.ended_at && <button type="button" class="danger" disabled={action.busy} onClick={() => endSession(session.sid)}>End this session</button>}
        </form>
        <form onSubmit={findFamily} aria-label="Find a refresh-token family">
          <Field label="Refresh-token family ID" name="family_id" required pattern="[A-Za-z0-9_\-]{1,128}" spellcheck={false} autoComplete="off" />
          <button type="submit" class="secondary" disabled={action.busy}>Find family</button>
          {family && (
            <dl class="facts" data-testid="found-family">
              <dt>Client</dt><dd><a class="mono" href={`${BASE}/clients?id=${encodeURIComponent(family.client_id)}`} onClick={linkClick}>{family.client_id}</a></dd>
              <dt>User</dt><dd>{family.user_id ? <a class="mono" href={`${BASE}/users?id=${family.user_id}`} onClick={linkClick}>{family.user_id}</a> : '—'}</dd>
              <dt>Scope</dt><dd>{family.scope}</dd>
              <dt>Last used</dt><dd><Time value={family.last_used_at} /></dd>
              <dt>State</dt><dd>{family.active ? 'active' : family.revoked_at ? <>revoked <Time value={family.revoked_at} /></> : 'ended'}</dd>
            </dl>
          )}
          {family?.active && <button type="button" class="danger" disabled={action.busy} onClick={() => revokeFamily(family.family_id)}>Revoke this family</button>}
        </form>
      </div>
    </section>
  )
}
