/**
 * Refresh-token families (one per sign-in), shown on a user's and a client's page, each
 * revocable (POST /admin/refresh-families/{familyId}/revoke). Not a page of its own.
 *
 * @module
 */
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Loading, Table, Time, useAction } from '../components.js'

type FamilyPage = Ok<'/admin/users/{id}/refresh-families', 'get'>

export function FamilyTable ({ caption, result }: { caption: string, result: { data?: FamilyPage, error?: string, reload: () => void } }) {
  const action = useAction()
  if (!result.data) return <Loading error={result.error} label="refresh-token families" />
  const families = result.data.items
  async function revoke (familyId: string) {
    const done = await action.run(() => unwrap(() => api.POST('/admin/refresh-families/{familyId}/revoke', { params: { path: { familyId } } })))
    if (done) result.reload()
  }
  return (
    <>
      {action.error && <Alert>{action.error}</Alert>}
      <Table caption={caption}>
        <thead><tr><th scope="col">Family</th><th scope="col">Client</th><th scope="col">Scope</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {families.length === 0 && <tr><td colSpan={8}>None.</td></tr>}
          {families.map((f) => (
            <tr key={f.family_id}>
              <td class="mono">{f.family_id.slice(0, 8)}…</td>
              <td class="mono">{f.client_id}</td>
              <td>{f.scope}</td>
              <td><Time value={f.created_at} /></td>
              <td><Time value={f.last_used_at} /></td>
              <td><Time value={f.expires_at} /></td>
              <td>{f.active ? 'active' : f.revoked_at ? 'revoked' : 'ended'}</td>
              <td>{f.active && <button type="button" class="secondary" disabled={action.busy} onClick={() => revoke(f.family_id)}>Revoke<span class="sr-only"> family {f.family_id}</span></button>}</td>
            </tr>
          ))}
        </tbody>
      </Table>
    </>
  )
}
