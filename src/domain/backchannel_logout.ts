/**
 * OIDC Back-Channel Logout 1.0 §2.5: the OP POSTs `logout_token=<JWT>` as a form to each client's
 * `backchannel_logout_uri`. Delivery is fire-and-forget for the user (logout never waits on a
 * client), with a per-attempt timeout and a few retries with exponential backoff; `drain()` lets
 * the server finish pending deliveries before it exits.
 *
 * @module
 */
import type { Policy } from '../config/defaults.js'

export interface BackchannelLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface LogoutDelivery {
  clientId: string
  uri: string
  /** Mints the logout token; called once per delivery (the same token is retried). */
  token: () => Promise<string>
}

export class BackchannelLogout {
  readonly #options: Policy['backchannelLogout']
  readonly #log: BackchannelLogger
  readonly #pending = new Set<Promise<void>>()
  readonly #fetch: typeof fetch
  #closing = false

  constructor (options: Policy['backchannelLogout'], log: BackchannelLogger, fetchImpl: typeof fetch = fetch) {
    this.#options = options
    this.#log = log
    this.#fetch = fetchImpl
  }

  /** Starts delivery in the background and returns at once. */
  notify (delivery: LogoutDelivery): void {
    const task = this.#deliver(delivery).finally(() => { this.#pending.delete(task) })
    this.#pending.add(task)
  }

  /** Waits for deliveries in flight; retries still waiting on their backoff are cut short. */
  async drain (): Promise<void> {
    this.#closing = true
    await Promise.allSettled([...this.#pending])
  }

  async #deliver ({ clientId, uri, token }: LogoutDelivery): Promise<void> {
    let logoutToken: string
    try {
      logoutToken = await token()
    } catch (err) {
      this.#log.warn({ err, client_id: clientId }, 'back-channel logout: could not mint the logout token')
      return
    }
    const { attempts, timeoutMs, backoffMs } = this.#options
    let lastError = ''
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await this.#fetch(uri, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: logoutToken }).toString(),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'manual',
        })
        await res.body?.cancel()
        // §2.8: "If the logout succeeded, the RP MUST respond with HTTP 200 OK" (204 is common too).
        if (res.status === 200 || res.status === 204) {
          this.#log.info({ event: 'backchannel_logout_delivered', client_id: clientId, attempt }, 'back-channel logout delivered')
          return
        }
        lastError = `HTTP ${res.status}`
        // A 400 means the client rejected the token; retrying the same token will not help.
        if (res.status === 400) break
      } catch (err) {
        lastError = (err as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : (err as Error).message
      }
      if (attempt < attempts && !this.#closing) await sleep(backoffMs * 2 ** (attempt - 1))
      else if (this.#closing) break
    }
    this.#log.warn({ event: 'backchannel_logout_failed', client_id: clientId, error: lastError }, 'back-channel logout not delivered')
  }
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
