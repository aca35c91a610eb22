/**
 * Effective configuration (GET /admin/config): every environment setting in force, where it
 * came from, secrets masked by the server (they never reach the browser).
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap } from '../api/client.js'
import { Field, Loading, Table, useLoad } from '../components.js'
import type { PageProps } from '../routes.js'

export function ConfigPage (_props: PageProps) {
  const config = useLoad(() => unwrap(() => api.GET('/admin/config')))
  const [filter, setFilter] = useState('')
  const settings = config.data?.settings.filter((s) => !filter || s.name.toLowerCase().includes(filter.toLowerCase()) || s.description.toLowerCase().includes(filter.toLowerCase()))
  return (
    <>
      <h1 tabIndex={-1}>Configuration</h1>
      <p>The settings this server runs with. Change them in its environment and restart; secrets are masked by the server.</p>
      {!config.data ? <Loading error={config.error} label="configuration" /> : (
        <>
          <p>Issuer: <code>{config.data.issuer}</code></p>
          <div role="search"><Field label="Filter settings" name="filter" type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} /></div>
          <Table caption="Effective configuration">
            <thead><tr><th scope="col">Setting</th><th scope="col">Value</th><th scope="col">Source</th><th scope="col">Meaning</th></tr></thead>
            <tbody>
              {settings!.map((s) => (
                <tr key={s.name}>
                  <th scope="row" class="mono">{s.name}</th>
                  <td class="mono">{s.value === null ? <span class="muted">unset</span> : String(s.value)}{s.masked && <span class="badge">masked</span>}</td>
                  <td>{s.source}</td>
                  <td class="desc">{s.description.replace(/`/g, '')}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        </>
      )}
    </>
  )
}
