/**
 * Entry point: completes a sign-in on /console/callback, otherwise signs in (silently while
 * Stamp's SSO session lasts) and renders the console. A user without `stamp:admin` is refused
 * here, before any admin call, and the admin API refuses them again (403) whatever this code does.
 *
 * @module
 */
import { render } from 'preact'
import './styles.css'
import { ADMIN_SCOPE, completeSignIn, isSignedIn, loadConfig, principal, signIn, signOut, SignInError } from './auth.js'
import { App } from './app.js'
import { BASE, navigate } from './router.js'

const root = document.getElementById('app')!

function Refused ({ title, message, retry }: { title: string, message: string, retry: 'again' | 'other-user' }) {
  return (
    <main class="refused" id="main">
      <h1>{title}</h1>
      <p role="alert">{message}</p>
      <p>
        {retry === 'other-user'
          ? <button type="button" onClick={() => signIn(`${BASE}/`, { prompt: 'login' })}>Sign in as another user</button>
          : <button type="button" onClick={() => signIn(`${BASE}/`)}>Sign in again</button>}
        {' '}
        {retry === 'other-user' && <button type="button" class="secondary" onClick={() => signOut()}>Sign out</button>}
      </p>
    </main>
  )
}

async function start (): Promise<void> {
  const url = new URL(location.href)
  try {
    if (url.pathname === `${BASE}/callback`) {
      const returnTo = await completeSignIn(url.searchParams)
      navigate(returnTo, { replace: true })
    }
    if (!isSignedIn()) {
      await loadConfig()
      await signIn(url.pathname === `${BASE}/callback` ? `${BASE}/` : url.pathname + url.search)
      return
    }
    const me = principal()!
    if (!me.scopes.includes(ADMIN_SCOPE)) {
      render(<Refused title="Not an administrator" retry="other-user"
        message={`You are signed in as ${me.name}, but this account does not hold the ${ADMIN_SCOPE} scope, so it cannot use the admin console. Ask an administrator to grant it, or sign in with an administrator account.`} />, root)
      document.title = 'Not an administrator · Stamp console'
      return
    }
    render(<App me={me} />, root)
  } catch (err) {
    const message = err instanceof SignInError || err instanceof Error ? err.message : String(err)
    render(<Refused title="Sign-in failed" message={message} retry="again" />, root)
    document.title = 'Sign-in failed · Stamp console'
  }
}

void start()
