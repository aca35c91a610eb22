/**
 * The console's shell: a skip link, the navigation built from the route table, the signed-in
 * user with a sign-out button, and the current page in <main>. Moving to another page moves the
 * focus to its heading, so keyboard and screen reader users land on the new content.
 *
 * @module
 */
import { useEffect, useRef } from 'preact/hooks'
import type { Principal } from './auth.js'
import { signOut } from './auth.js'
import { BASE, linkClick, pagePath, useLocation } from './router.js'
import { ROUTES } from './routes.js'

export function App ({ me }: { me: Principal }) {
  const url = useLocation()
  const path = pagePath(url)
  const route = ROUTES.find((r) => r.path === path)
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)
  useEffect(() => {
    document.title = `${route?.title ?? 'Not found'} · Stamp console`
    if (first.current) { first.current = false; return }
    main.current?.querySelector<HTMLElement>('h1')?.focus()
  }, [path])
  const Page = route?.page
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <p class="brand"><a href={`${BASE}/`} onClick={linkClick}>Stamp console</a></p>
        <nav aria-label="Console">
          <ul>
            {ROUTES.map((r) => (
              <li key={r.path}>
                <a href={`${BASE}${r.path === '/' ? '/' : r.path}`} onClick={linkClick} aria-current={r.path === path ? 'page' : undefined}>{r.title}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="me">
          <span>Signed in as <strong>{me.name}</strong></span>
          <button type="button" class="secondary" onClick={() => signOut()}>Sign out</button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {Page ? <Page url={url} me={me} key={path} /> : <><h1 tabIndex={-1}>Not found</h1><p>No console page at {url.pathname}.</p></>}
      </main>
    </>
  )
}
