/**
 * A small client-side router over the History API: paths under /console/, query strings for a
 * page's own state (a search, a selected user), so every view has a URL that survives a reload.
 *
 * @module
 */
import { useEffect, useState } from 'preact/hooks'

export const BASE = '/console'
const listeners = new Set<() => void>()

export function navigate (to: string, options: { replace?: boolean } = {}): void {
  const url = to.startsWith('/') ? to : `${BASE}/${to}`
  if (options.replace) history.replaceState(null, '', url)
  else history.pushState(null, '', url)
  for (const listener of listeners) listener()
}

addEventListener('popstate', () => { for (const listener of listeners) listener() })

/** The current location; the component re-renders on every navigation. */
export function useLocation (): URL {
  const [, setTick] = useState(0)
  useEffect(() => {
    const listener = () => setTick((n) => n + 1)
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }, [])
  return new URL(location.href)
}

/** The path below /console/ ("/" for the overview). */
export function pagePath (url: URL): string {
  const rest = url.pathname.startsWith(`${BASE}/`) ? url.pathname.slice(BASE.length) : '/'
  return rest.length > 1 ? rest.replace(/\/+$/, '') : '/'
}

/** Follows a same-app link without reloading (modifier-clicks keep the browser's behaviour). */
export function linkClick (event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  event.preventDefault()
  navigate(anchor.pathname + anchor.search)
}

/** Sets one query parameter (removes it when empty) on the current page. */
export function withQuery (url: URL, changes: Record<string, string | undefined>): string {
  const next = new URL(url.href)
  for (const [name, value] of Object.entries(changes)) {
    if (value) next.searchParams.set(name, value)
    else next.searchParams.delete(name)
  }
  return next.pathname + next.search
}
