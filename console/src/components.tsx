/**
 * Small accessible building blocks shared by the pages: labelled fields, alerts that screen
 * readers announce, tables that scroll on a phone, a modal dialog on the native <dialog>
 * (focus trapped and restored by the browser, Escape closes), a copy button, and timestamps.
 *
 * @module
 */
import type { ComponentChildren, JSX, TargetedEvent } from 'preact'
import { useEffect, useId, useRef, useState } from 'preact/hooks'
import { APIError } from './api/client.js'

export function Alert ({ kind = 'error', children }: { kind?: 'error' | 'success' | 'info', children: ComponentChildren }) {
  return <div class={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>{children}</div>
}

/**
 * A form's error, focused when it appears (or changes), so that in a long form or a dialog the
 * keyboard user lands on what went wrong instead of on a button that seemingly did nothing.
 */
export function FormError ({ error }: { error?: string }) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => { if (error) ref.current?.focus() }, [error])
  if (!error) return null
  return <div ref={ref} tabIndex={-1} class="alert alert-error" role="alert">{error}</div>
}

export function errorText (err: unknown): string {
  if (err instanceof APIError) return `${err.message} (HTTP ${err.status}${err.code && err.code !== 'error' ? `, ${err.code}` : ''})`
  return err instanceof Error ? err.message : String(err)
}

/** Runs one async action at a time, and keeps its error or result message for an alert. */
export function useAction () {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true)
    setError(undefined)
    try {
      return await action()
    } catch (err) {
      setError(errorText(err))
      return undefined
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, setError, run }
}

/** Loads data on mount and whenever `deps` change; `reload` re-runs it. */
export function useLoad<T> (load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<string>()
  const [version, setVersion] = useState(0)
  const shown = useRef<string | undefined>(undefined)
  useEffect(() => {
    let live = true
    setError(undefined)
    // Other data (a new search, another page): show "Loading" rather than the previous result.
    // A reload of the same data keeps it on screen until the fresh copy arrives.
    const key = JSON.stringify(deps)
    if (shown.current !== undefined && shown.current !== key) setData(undefined)
    shown.current = key
    load().then((value) => { if (live) setData(value) }, (err) => { if (live) setError(errorText(err)) })
    return () => { live = false }
  }, [...deps, version])
  return { data, error, reload: () => setVersion((v) => v + 1) }
}

export function Loading ({ error, label }: { error?: string, label: string }) {
  return error ? <Alert>{error}</Alert> : <p class="muted" role="status">Loading {label}…</p>
}

/** Preact types <input> as a union keyed by `type`; a prop bag with a variable type is one of them. */
const inputAttributes = (props: Omit<InputProps, 'label' | 'hint'>) => props as unknown as JSX.IntrinsicElements['input']

/** The input attributes the pages use (Preact's own types are a union too wide to pass through). */
interface InputProps {
  label: string
  hint?: string
  name: string
  type?: 'text' | 'search' | 'email' | 'url' | 'password' | 'number' | 'datetime-local' | 'checkbox'
  value?: string
  defaultValue?: string
  checked?: boolean
  defaultChecked?: boolean
  required?: boolean
  maxLength?: number
  min?: number
  max?: number
  pattern?: string
  placeholder?: string
  autoComplete?: string
  spellcheck?: boolean
  onInput?: (event: TargetedEvent<HTMLInputElement, Event>) => void
  onChange?: (event: TargetedEvent<HTMLInputElement, Event>) => void
}

export function Field ({ label, hint, ...input }: InputProps) {
  const id = useId()
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...inputAttributes(input)} />
      {hint && <p id={`${id}-hint`} class="hint">{hint}</p>}
    </div>
  )
}

interface AreaProps {
  label: string
  hint?: string
  name: string
  defaultValue?: string
  rows?: number
  spellcheck?: boolean
  class?: string
}

export function TextArea ({ label, hint, rows = 3, ...area }: AreaProps) {
  const id = useId()
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea id={id} rows={rows} aria-describedby={hint ? `${id}-hint` : undefined} {...area} />
      {hint && <p id={`${id}-hint`} class="hint">{hint}</p>}
    </div>
  )
}

export function Check ({ label, hint, ...input }: InputProps) {
  const id = useId()
  return (
    <div class="check">
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...inputAttributes({ ...input, type: 'checkbox' })} />
      <label for={id}>{label}</label>
      {hint && <p id={`${id}-hint`} class="hint">{hint}</p>}
    </div>
  )
}

/** A labelled <select>; `options` are [value, text] pairs. */
export function Select ({ label, hint, name, value, defaultValue, options, onChange, disabled }: { label: string, hint?: string, name: string, value?: string, defaultValue?: string, options: ReadonlyArray<readonly [string, string]>, onChange?: (value: string) => void, disabled?: boolean }) {
  const id = useId()
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} name={name} value={value} defaultValue={defaultValue} disabled={disabled} aria-describedby={hint ? `${id}-hint` : undefined} onChange={onChange ? (e) => onChange(e.currentTarget.value) : undefined}>
        {options.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
      </select>
      {hint && <p id={`${id}-hint`} class="hint">{hint}</p>}
    </div>
  )
}

/**
 * A destructive action confirmed by typing a word (a key id, a username): the button stays
 * usable, and a wrong or missing word is refused with a message, so keyboard and screen-reader
 * users learn why nothing happened.
 */
export function TypedConfirm ({ word, action, busy, error, onConfirm, onCancel }: { word: string, action: string, busy?: boolean, error?: string, onConfirm: () => void, onCancel: () => void }) {
  const [typed, setTyped] = useState('')
  const [problem, setProblem] = useState<string>()
  return (
    <form noValidate onSubmit={(e) => {
      e.preventDefault()
      if (typed.trim() !== word) { setProblem(`Not done: type ${word} exactly to confirm.`); return }
      setProblem(undefined)
      onConfirm()
    }}>
      <FormError error={problem ?? error} />
      <Field label={`Type ${word} to confirm`} name="confirm" autoComplete="off" spellcheck={false} value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
      <div class="actions">
        <button type="submit" class="danger" disabled={busy}>{action}</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  )
}

/** A table in a region that scrolls sideways on narrow screens and is reachable by keyboard. */
export function Table ({ caption, children }: { caption: string, children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption>{caption}</caption>
        {children}
      </table>
    </div>
  )
}

export function Time ({ value }: { value: string | null | undefined }) {
  if (!value) return <span class="muted">—</span>
  const date = new Date(value)
  return <time dateTime={value} title={value}>{date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}</time>
}

/** A modal dialog; `open` shows it with showModal() (focus moves in, Escape closes). */
export function Dialog ({ open, title, onClose, children }: { open: boolean, title: string, onClose: () => void, children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    if (!open && dialog.open) dialog.close()
  }, [open])
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  )
}

/** A value to hand over elsewhere (a redirect URI, a public key): read-only, with a copy button. */
export function CopyValue ({ label, value, hint }: { label: string, value: string, hint?: string }) {
  const [copied, setCopied] = useState(false)
  const id = useId()
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <div class="secret-row">
        <input id={id} readOnly value={value} class="mono" aria-describedby={`${id}-hint`} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="secondary" onClick={async () => { await navigator.clipboard.writeText(value).catch(() => undefined); setCopied(true) }}>Copy<span class="sr-only"> {label}</span></button>
      </div>
      <p id={`${id}-hint`} class="hint" role="status">{copied ? 'Copied to the clipboard.' : hint ?? ''}</p>
    </div>
  )
}

/** A secret shown once: read-only, selectable, with a copy button. */
export function SecretOnce ({ label, value }: { label: string, value: string }) {
  const [copied, setCopied] = useState(false)
  const id = useId()
  return (
    <div class="secret">
      <label for={id}>{label}</label>
      <div class="secret-row">
        <input id={id} readOnly value={value} class="mono" onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={async () => { await navigator.clipboard.writeText(value).catch(() => undefined); setCopied(true) }}>Copy</button>
      </div>
      <p class="hint" role="status">{copied ? 'Copied to the clipboard.' : 'Shown once: Stamp stores only its hash. Copy it now.'}</p>
    </div>
  )
}

/** Splits a textarea's lines (or a space-separated field) into a list. */
export function lines (value: string): string[] {
  return value.split(/\n/).map((s) => s.trim()).filter(Boolean)
}
export function words (value: string): string[] {
  return value.split(/\s+/).map((s) => s.trim()).filter(Boolean)
}

/** The form's values by field name (checkboxes as booleans). */
export function formValues (form: HTMLFormElement): Record<string, string> & { checked: (name: string) => boolean, all: (name: string) => string[] } {
  const data = new FormData(form)
  const values: Record<string, string> = {}
  for (const [name, value] of data) if (typeof value === 'string' && !(name in values)) values[name] = value
  return Object.assign(values, {
    checked: (name: string) => data.has(name),
    all: (name: string) => data.getAll(name).map(String),
  })
}

/** A list's page controls for cursor pagination: back to the first page, or on to the next. */
export function Pager ({ hasNext, onNext, onFirst, atFirst }: { hasNext: boolean, onNext: () => void, onFirst: () => void, atFirst: boolean }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" onClick={onFirst} disabled={atFirst}>First page</button>
      <button type="button" onClick={onNext} disabled={!hasNext}>Next page</button>
    </nav>
  )
}
