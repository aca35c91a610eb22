/**
 * Signing keys as a timeline (GET /admin/keys): next → active → retiring → retired/revoked, each
 * with its dates, and the pre-publication rule as dates (when the next key may take over).
 * Rotate (POST /admin/keys/rotate) shows the rule's refusal (409) as it is and offers a forced
 * rotation only behind an explicit checkbox; emergency revoke (POST /admin/keys/{kid}/revoke)
 * needs the key id typed in.
 *
 * @module
 */
import { useState } from 'preact/hooks'
import { api, unwrap, type Ok } from '../api/client.js'
import { Alert, Check, Dialog, Field, Loading, Time, errorText, useAction, useLoad } from '../components.js'
import type { PageProps } from '../routes.js'

type Key = Ok<'/admin/keys', 'get'>['keys'][number]

const loadKeys = () => unwrap(() => api.GET('/admin/keys'))

const ORDER = ['next', 'active', 'retiring', 'retired', 'revoked']
const STATE_TEXT: Record<string, string> = {
  next: 'Published, not signing yet',
  active: 'Signs every new token',
  retiring: 'Published so tokens it signed still verify',
  retired: 'No longer published',
  revoked: 'Withdrawn in an emergency',
}

function seconds (s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400} d`
  if (s % 3600 === 0) return `${s / 3600} h`
  if (s % 60 === 0) return `${s / 60} min`
  return `${s} s`
}

export function KeysPage (_props: PageProps) {
  const keys = useLoad(loadKeys)
  const rotate = useAction()
  const [rotated, setRotated] = useState<string>()
  const [force, setForce] = useState(false)
  const [revoking, setRevoking] = useState<Key>()
  const [revoked, setRevoked] = useState<string>()

  async function doRotate () {
    setRotated(undefined)
    const result = await rotate.run(() => unwrap(() => api.POST('/admin/keys/rotate', { body: force ? { force: true } : {} })))
    if (result) {
      setRotated(`Rotated: ${result.active} now signs, ${result.retiring} is retiring, ${result.next} is the new next key.`)
      setForce(false)
      keys.reload()
    }
  }

  const sorted = [...(keys.data?.keys ?? [])].sort((a, b) => ORDER.indexOf(a.status) - ORDER.indexOf(b.status) || b.created_at.localeCompare(a.created_at))
  const rule = keys.data?.rotation
  return (
    <>
      <h1 tabIndex={-1}>Signing keys</h1>
      {!keys.data ? <Loading error={keys.error} label="keys" /> : (
        <>
          <section class="rule" aria-labelledby="rule">
            <h2 id="rule">Pre-publication rule</h2>
            <p>
              A next key is published in the JWKS for at least <strong>{seconds(rule!.pre_publication_seconds)}</strong> (JWKS_MAX_AGE + KEY_REFRESH_INTERVAL)
              before it may sign, so every verifier's cache already holds it. The next key may take over from <strong><Time value={rule!.next_rotatable_at} /></strong>
              {rule!.next_rotatable_at && new Date(rule!.next_rotatable_at) <= new Date(rule!.now) ? ' (now)' : ''}.
              Scheduled rotation every {seconds(rule!.rotation_interval_seconds)}: next at <Time value={rule!.scheduled_rotation_at} />.
              A retiring key stays published for {seconds(rule!.retiring_grace_seconds)}.
            </p>
          </section>
          <section aria-labelledby="timeline">
            <h2 id="timeline">Timeline</h2>
            <ol class="timeline">
              {sorted.map((k) => (
                <li key={k.kid} class={`key key-${k.status}`} data-kid={k.kid} data-status={k.status}>
                  <h3><span class={`status status-${k.status}`}>{k.status}</span> <code>{k.kid}</code> <span class="muted">{k.alg}</span></h3>
                  <p class="muted">{STATE_TEXT[k.status] ?? ''}</p>
                  <dl class="dates">
                    <dt>Created</dt><dd><Time value={k.created_at} /></dd>
                    {k.activated_at && <><dt>Activated</dt><dd><Time value={k.activated_at} /></dd></>}
                    {k.retiring_at && <><dt>Retiring since</dt><dd><Time value={k.retiring_at} /></dd></>}
                    {k.retire_after && <><dt>Retires after</dt><dd><Time value={k.retire_after} /></dd></>}
                    {k.retired_at && <><dt>{k.status === 'revoked' ? 'Revoked' : 'Retired'}</dt><dd><Time value={k.retired_at} /></dd></>}
                  </dl>
                  {(k.status === 'next' || k.status === 'active' || k.status === 'retiring') && (
                    <button type="button" class="danger" onClick={() => { setRevoked(undefined); setRevoking(k) }}>Emergency revoke…</button>
                  )}
                </li>
              ))}
            </ol>
          </section>
          <section aria-labelledby="rotate">
            <h2 id="rotate">Rotate</h2>
            <p>The next key becomes active, the active key starts retiring, and a new next key is generated.</p>
            {rotate.error && <Alert>Rotation refused: {rotate.error}</Alert>}
            {rotated && <Alert kind="success">{rotated}</Alert>}
            {rotate.error && <Check label="Rotate anyway: verifiers may not have the next key yet, and tokens it signs may be refused until they refetch the JWKS" name="force" checked={force} onChange={(e) => setForce(e.currentTarget.checked)} />}
            <button type="button" onClick={doRotate} disabled={rotate.busy}>{force ? 'Force rotation' : 'Rotate keys'}</button>
          </section>
          {revoked && <Alert kind="success">{revoked}</Alert>}
        </>
      )}
      <RevokeDialog target={revoking} onClose={() => setRevoking(undefined)} onDone={(text) => { setRevoking(undefined); setRevoked(text); keys.reload() }} />
    </>
  )
}

function RevokeDialog ({ target, onClose, onDone }: { target?: Key, onClose: () => void, onDone: (text: string) => void }) {
  const [typed, setTyped] = useState('')
  const [problem, setProblem] = useState<string>()
  const [busy, setBusy] = useState(false)
  async function submit (event: Event) {
    event.preventDefault()
    if (!target) return
    if (typed.trim() !== target.kid) {
      setProblem(`Not revoked: type the key id ${target.kid} exactly to confirm.`)
      return
    }
    setBusy(true)
    setProblem(undefined)
    try {
      const result = await unwrap(() => api.POST('/admin/keys/{kid}/revoke', { params: { path: { kid: target.kid } } }))
      setTyped('')
      onDone(`Revoked ${result.revoked}: ${result.refresh_families_revoked} refresh-token families revoked; ${result.active} signs now.`)
    } catch (err) {
      setProblem(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <Dialog open={target !== undefined} title="Emergency revoke" onClose={() => { setTyped(''); setProblem(undefined); onClose() }}>
      {target && (
        <form onSubmit={submit} noValidate>
          <p>
            Revoking <code>{target.kid}</code> ({target.status}) drops it from the JWKS at once: every token it signed stops verifying, and the refresh
            tokens it signed are revoked. {target.status === 'active' ? 'The next key takes over immediately, without the pre-publication wait.' : ''}
          </p>
          {problem && <Alert>{problem}</Alert>}
          <Field label={`Type ${target.kid} to confirm`} name="confirm" autoComplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
          <div class="actions">
            <button type="submit" class="danger" disabled={busy}>Revoke key</button>
            <button type="button" class="secondary" onClick={() => { setTyped(''); setProblem(undefined); onClose() }}>Cancel</button>
          </div>
        </form>
      )}
    </Dialog>
  )
}
