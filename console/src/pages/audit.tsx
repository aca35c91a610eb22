/**
 * The audit trail (GET /admin/audit-events), newest first: filter by type, actor, subject and
 * time range, page on with the API's cursor. Filters live in the URL, so a filtered view can be
 * shared or reloaded.
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client.js'
import { Field, Loading, Pager, Table, Time, formValues, useLoad } from '../components.js'
import { navigate, withQuery } from '../router.js'
import type { PageProps } from '../routes.js'

export const AUDIT_PAGE_SIZE = 25

/** A datetime-local value (the browser's local time) as RFC 3339. */
function toInstant (local: string): string | undefined {
  if (!local) return undefined
  const date = new Date(local)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}

function toLocal (instant: string | null): string {
  if (!instant) return ''
  const date = new Date(instant)
  if (Number.isNaN(date.getTime())) return ''
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

export function AuditPage ({ url }: PageProps) {
  const q = url.searchParams
  const filters = { type: q.get('type') ?? undefined, actor: q.get('actor') ?? undefined, subject: q.get('subject') ?? undefined, since: q.get('since') ?? undefined, until: q.get('until') ?? undefined }
  const cursor = q.get('cursor') ?? undefined
  const [pageNumber, setPageNumber] = useState(1)
  const events = useLoad(() => unwrap(() => api.GET('/admin/audit-events', { params: { query: { limit: AUDIT_PAGE_SIZE, ...filters, cursor } } })), [url.search])
  const [open, setOpen] = useState<string>()

  function apply (event: Event) {
    event.preventDefault()
    const v = formValues(event.currentTarget as HTMLFormElement)
    setPageNumber(1)
    navigate(withQuery(url, { type: v.type.trim(), actor: v.actor.trim(), subject: v.subject.trim(), since: toInstant(v.since), until: toInstant(v.until), cursor: undefined }))
  }

  return (
    <>
      <h1 tabIndex={-1}>Audit trail</h1>
      <form class="filters" role="search" aria-label="Filter the audit trail" onSubmit={apply} key={url.search}>
        <Field label="Event type" name="type" defaultValue={filters.type} placeholder="e.g. client_created" pattern="[a-z_]{1,64}" hint="Exact type, lower case" />
        <Field label="Actor" name="actor" defaultValue={filters.actor} hint="Admin sub, user id, client id or cli" />
        <Field label="Subject" name="subject" defaultValue={filters.subject} hint="User id, client id, kid or family" />
        <Field label="From" name="since" type="datetime-local" defaultValue={toLocal(filters.since ?? null)} />
        <Field label="Until" name="until" type="datetime-local" defaultValue={toLocal(filters.until ?? null)} />
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button type="button" class="secondary" onClick={() => { setPageNumber(1); navigate(url.pathname) }}>Clear</button>
        </div>
      </form>
      {!events.data ? <Loading error={events.error} label="events" /> : (
        <>
          <Table caption={`Audit events, newest first (page ${pageNumber})`}>
            <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Client</th><th scope="col">IP</th><th scope="col">Detail</th></tr></thead>
            <tbody>
              {events.data.items.length === 0 && <tr><td colSpan={7}>No events match.</td></tr>}
              {events.data.items.map((e) => (
                <tr key={e.id} data-type={e.type}>
                  <td><Time value={e.created_at} /></td>
                  <td><code>{e.type}</code></td>
                  <td class="mono">{e.actor ?? '—'}</td>
                  <td class="mono">{e.subject ?? '—'}</td>
                  <td class="mono">{e.client_id ?? '—'}</td>
                  <td class="mono">{e.ip ?? '—'}</td>
                  <td>
                    {e.detail ? (
                      <button type="button" class="link" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? undefined : e.id)}>
                        {open === e.id ? 'Hide' : 'Show'}<span class="sr-only"> detail of event {e.id}</span>
                      </button>
                    ) : '—'}
                    {open === e.id && <pre class="detail">{JSON.stringify(e.detail, null, 2)}</pre>}
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
          <Pager atFirst={!cursor} hasNext={events.data.next_cursor !== null}
            onFirst={() => { setPageNumber(1); navigate(withQuery(url, { cursor: undefined })) }}
            onNext={() => { setPageNumber(pageNumber + 1); navigate(withQuery(url, { cursor: events.data!.next_cursor! })) }} />
        </>
      )}
    </>
  )
}
