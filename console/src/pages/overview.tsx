/**
 * Overview: counts (GET /admin/overview), the signing keys' state (GET /admin/keys) and the most
 * recent security events (GET /admin/audit-events).
 *
 * @module
 */
import { api, unwrap } from '../api/client.js'
import { Loading, Table, Time, useLoad } from '../components.js'
import { BASE, linkClick } from '../router.js'
import type { PageProps } from '../routes.js'

export function OverviewPage (_props: PageProps) {
  const counts = useLoad(() => unwrap(() => api.GET('/admin/overview')))
  const keys = useLoad(() => unwrap(() => api.GET('/admin/keys')))
  const events = useLoad(() => unwrap(() => api.GET('/admin/audit-events', { params: { query: { limit: 10 } } })))
  const c = counts.data
  const active = keys.data?.keys.find((k) => k.status === 'active')
  const next = keys.data?.keys.find((k) => k.status === 'next')
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      {!c ? <Loading error={counts.error} label="counts" /> : (
        <ul class="cards" aria-label="Counts">
          <li class="card"><span class="card-value" data-testid="count-users">{c.users.total}</span> <span class="card-label">users</span><span class="card-note">{c.users.disabled} disabled</span></li>
          <li class="card"><span class="card-value" data-testid="count-clients">{c.clients.admin + c.clients.dcr + c.clients.cimd}</span> <span class="card-label">clients</span><span class="card-note">{c.clients.admin} registered by admins, {c.clients.dcr} dynamic, {c.clients.cimd} metadata documents</span></li>
          <li class="card"><span class="card-value" data-testid="count-sessions">{c.active_sessions}</span> <span class="card-label">live sessions</span></li>
          <li class="card"><span class="card-value">{c.keys.next + c.keys.active + c.keys.retiring}</span> <span class="card-label">published keys</span><span class="card-note">{c.keys.retired} retired, {c.keys.revoked} revoked</span></li>
        </ul>
      )}
      <section aria-labelledby="key-state">
        <h2 id="key-state">Signing keys</h2>
        {!keys.data ? <Loading error={keys.error} label="keys" /> : (
          <p>
            Active key <code>{active?.kid ?? 'none'}</code> ({active?.alg}) since <Time value={active?.activated_at ?? active?.created_at} />.
            {' '}Next key <code>{next?.kid ?? 'none'}</code> may take over from <Time value={keys.data.rotation.next_rotatable_at} />;
            {' '}scheduled rotation <Time value={keys.data.rotation.scheduled_rotation_at} />.
            {' '}<a href={`${BASE}/keys`} onClick={linkClick}>Key timeline</a>
          </p>
        )}
      </section>
      <section aria-labelledby="recent-events">
        <h2 id="recent-events">Recent security events</h2>
        {!events.data ? <Loading error={events.error} label="events" /> : (
          <Table caption="The ten most recent audit events">
            <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Actor</th><th scope="col">Subject</th></tr></thead>
            <tbody>
              {events.data.items.map((e) => (
                <tr key={e.id}><td><Time value={e.created_at} /></td><td><code>{e.type}</code></td><td class="mono">{e.actor ?? '—'}</td><td class="mono">{e.subject ?? '—'}</td></tr>
              ))}
            </tbody>
          </Table>
        )}
        <p><a href={`${BASE}/audit`} onClick={linkClick}>Full audit trail</a></p>
      </section>
    </>
  )
}
