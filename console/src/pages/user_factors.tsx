/**
 * A user's second factors on their page (GET /admin/users/{id}/factors): the TOTP authenticator,
 * each passkey, the recovery codes left, and whether a second factor is required at sign-in.
 * Remove the TOTP authenticator (DELETE …/factors/totp) or one passkey (DELETE
 * …/factors/passkeys/{credentialId}) with a confirmation, or all of them after a lost device
 * (DELETE …/factors) behind typing the username; require MFA (PATCH mfa_required).
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client.js'
import { Alert, Dialog, FormError, Loading, Table, Time, TypedConfirm, useAction, useLoad } from '../components.js'

type Pending = { kind: 'totp' } | { kind: 'passkey', id: string, name: string } | { kind: 'all' }

export function UserFactors ({ id, username, onChanged }: { id: string, username: string, onChanged: () => void }) {
  const factors = useLoad(() => unwrap(() => api.GET('/admin/users/{id}/factors', { params: { path: { id } } })), [id])
  const action = useAction()
  const [notice, setNotice] = useState<string>()
  const [pending, setPending] = useState<Pending>()
  const f = factors.data

  async function remove () {
    const what = pending
    if (!what) return
    const done = await action.run(async () => {
      if (what.kind === 'totp') return unwrap(() => api.DELETE('/admin/users/{id}/factors/totp', { params: { path: { id } } })).then((r) => r.removed ? 'TOTP authenticator removed.' : 'There was no TOTP authenticator.')
      if (what.kind === 'passkey') return unwrap(() => api.DELETE('/admin/users/{id}/factors/passkeys/{credentialId}', { params: { path: { id, credentialId: what.id } } })).then(() => `Passkey “${what.name}” removed.`)
      const r = await unwrap(() => api.DELETE('/admin/users/{id}/factors', { params: { path: { id } } }))
      return `All second factors removed: ${r.passkeys} passkey(s), ${r.totp} TOTP, ${r.recovery_codes} recovery code(s).`
    })
    setPending(undefined)
    if (done) { setNotice(done); factors.reload() }
  }
  async function requireMFA (required: boolean) {
    const done = await action.run(() => unwrap(() => api.PATCH('/admin/users/{id}', { params: { path: { id } }, body: { mfa_required: required } })))
    if (done) { setNotice(required ? 'A second factor is now required at sign-in; without one, the user enrols at the next sign-in.' : 'A second factor is no longer required by you (a client may still require one).'); factors.reload(); onChanged() }
  }

  if (!f) return <Loading error={factors.error} label="second factors" />
  const none = !f.totp && f.passkeys.length === 0 && f.recovery_codes_left === 0
  return (
    <>
      {!pending && <FormError error={action.error} />}
      {notice && <Alert kind="success">{notice}</Alert>}
      <dl class="facts">
        <dt>Required at sign-in</dt><dd data-testid="mfa-required">{f.mfa_required ? 'yes' : 'no'}</dd>
        <dt>TOTP authenticator</dt><dd data-testid="totp-state">{f.totp ? 'enrolled' : 'none'}</dd>
        <dt>Recovery codes left</dt><dd>{f.recovery_codes_left}</dd>
      </dl>
      <div class="actions">
        {f.mfa_required
          ? <button type="button" class="secondary" disabled={action.busy} onClick={() => requireMFA(false)}>Stop requiring a second factor</button>
          : <button type="button" disabled={action.busy} onClick={() => requireMFA(true)}>Require a second factor</button>}
        {f.totp && <button type="button" class="secondary" onClick={() => { setNotice(undefined); setPending({ kind: 'totp' }) }}>Remove TOTP…</button>}
        {!none && <button type="button" class="danger" onClick={() => { setNotice(undefined); setPending({ kind: 'all' }) }}>Reset all factors…</button>}
      </div>
      <Table caption={`Passkeys of ${username}`}>
        <thead><tr><th scope="col">Name</th><th scope="col">Synced</th><th scope="col">Transports</th><th scope="col">Registered</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {f.passkeys.length === 0 && <tr><td colSpan={6}>No passkeys.</td></tr>}
          {f.passkeys.map((p) => (
            <tr key={p.id}>
              <th scope="row">{p.name}</th>
              <td>{p.backup_state ? 'yes (backed up)' : p.backup_eligible ? 'eligible' : 'no (device-bound)'}</td>
              <td>{p.transports.join(', ') || '—'}</td>
              <td><Time value={p.created_at} /></td>
              <td><Time value={p.last_used_at} /></td>
              <td><button type="button" class="secondary" onClick={() => { setNotice(undefined); setPending({ kind: 'passkey', id: p.id, name: p.name }) }}>Remove<span class="sr-only"> passkey {p.name}</span>…</button></td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Dialog open={pending !== undefined} title={pending?.kind === 'all' ? 'Reset all second factors?' : pending?.kind === 'totp' ? 'Remove the TOTP authenticator?' : 'Remove this passkey?'} onClose={() => setPending(undefined)}>
        {pending?.kind === 'all' && (
          <>
            <p>Removes every passkey, the TOTP authenticator and the recovery codes of <strong>{username}</strong> (a lost device). {f.mfa_required ? 'A second factor stays required: they enrol again at the next sign-in.' : ''}</p>
            <TypedConfirm word={username} action="Reset all factors" busy={action.busy} error={action.error} onConfirm={remove} onCancel={() => setPending(undefined)} />
          </>
        )}
        {pending && pending.kind !== 'all' && (
          <>
            <p>{pending.kind === 'totp' ? <>The authenticator app of <strong>{username}</strong> stops working; passkeys and recovery codes stay.</> : <>The passkey “{pending.name}” of <strong>{username}</strong> stops working; their other factors stay.</>}</p>
            <FormError error={action.error} />
            <div class="actions">
              <button type="button" class="danger" disabled={action.busy} onClick={remove}>{pending.kind === 'totp' ? 'Remove TOTP' : 'Remove passkey'}</button>
              <button type="button" class="secondary" onClick={() => setPending(undefined)}>Cancel</button>
            </div>
          </>
        )}
      </Dialog>
    </>
  )
}
