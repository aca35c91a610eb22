/**
 * Sessions: every live SSO session (GET /admin/sessions), end one (DELETE /admin/sessions/{sid},
 * with back-channel logout to its clients), or sign its user out everywhere (POST
 * /admin/users/{id}/sign-out). `SessionTable` is also the user page's list.
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Dialog, Loading, Pager, Table, Time, useAction, useLoad } from '../components.js'
import { BASE, linkClick, navigate, withQuery } from '../router.js'
import type { PageProps } from '../routes.js'
import { Lookup } from './lookup.js'

type SessionPageData = Ok<'/admin/sessions', 'get'>
export const SESSION_PAGE_SIZE = 50

export function SessionsPage ({ url }: PageProps) {
  const cursor = url.searchParams.get('cursor') ?? undefined
  const sessions = useLoad(() => unwrap(() => api.GET('/admin/sessions', { params: { query: { limit: SESSION_PAGE_SIZE, cursor } } })), [url.search])
  return (
    <>
      <h1 tabIndex={-1}>Sessions</h1>
      <p>Live single sign-on sessions at the hosted login page. Ending one revokes its refresh tokens and notifies its clients (back-channel logout); access tokens already issued expire on their own within minutes.</p>
      <SessionTable caption="Live sessions" result={sessions} showUser />
      {sessions.data && <Pager atFirst={!cursor} hasNext={sessions.data.next_cursor !== null} onFirst={() => navigate(withQuery(url, { cursor: undefined }))} onNext={() => navigate(withQuery(url, { cursor: sessions.data!.next_cursor! }))} />}
      <Lookup />
    </>
  )
}

export function SessionTable ({ caption, result, showUser = false }: { caption: string, result: { data?: SessionPageData, error?: string, reload: () => void }, showUser?: boolean }) {
  const action = useAction()
  const [notice, setNotice] = useState<string>()
  const [signOutUser, setSignOutUser] = useState<string>()
  if (!result.data) return <Loading error={result.error} label="sessions" />
  async function end (sid: string) {
    const done = await action.run(() => unwrap(() => api.DELETE('/admin/sessions/{sid}', { params: { path: { sid } } })))
    if (done) { setNotice(`Session ${sid.slice(0, 8)}… ended.`); result.reload() }
  }
  async function everywhere (id: string) {
    setSignOutUser(undefined)
    const done = await action.run(() => unwrap(() => api.POST('/admin/users/{id}/sign-out', { params: { path: { id } } })))
    if (done) { setNotice(`Signed out everywhere: ${done.ended_sessions} session(s) ended, ${done.revoked_families} refresh-token families revoked.`); result.reload() }
  }
  return (
    <>
      {action.error && <Alert>{action.error}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      <Table caption={caption}>
        <thead><tr><th scope="col">Session</th>{showUser && <th scope="col">User</th>}<th scope="col">Signed in</th><th scope="col">Expires</th><th scope="col">Clients</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {result.data.items.length === 0 && <tr><td colSpan={showUser ? 6 : 5}>No live sessions.</td></tr>}
          {result.data.items.map((s) => (
            <tr key={s.sid} data-sid={s.sid}>
              <td class="mono">{s.sid.slice(0, 10)}…</td>
              {showUser && <td><a class="mono" href={`${BASE}/users?id=${s.user_id}`} onClick={linkClick}>{s.user_id.slice(0, 8)}…</a></td>}
              <td><Time value={s.auth_time} /></td>
              <td><Time value={s.expires_at} /></td>
              <td>{s.client_ids.join(', ') || '—'}</td>
              <td class="row-actions">
                <button type="button" class="secondary" disabled={action.busy} onClick={() => end(s.sid)}>End<span class="sr-only"> session {s.sid}</span></button>
                {showUser && <button type="button" class="danger" disabled={action.busy} onClick={() => setSignOutUser(s.user_id)}>Sign user out everywhere…</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Dialog open={signOutUser !== undefined} title="Sign this user out everywhere?" onClose={() => setSignOutUser(undefined)}>
        <p>Every session of user <code>{signOutUser}</code> ends and every refresh token of theirs is revoked.</p>
        <div class="actions">
          <button type="button" class="danger" onClick={() => everywhere(signOutUser!)}>Sign out everywhere</button>
          <button type="button" class="secondary" onClick={() => setSignOutUser(undefined)}>Cancel</button>
        </div>
      </Dialog>
    </>
  )
}
