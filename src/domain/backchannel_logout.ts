/**
 * OIDC Back-Channel Logout 1.0 §2.5: the OP POSTs `logout_token=<JWT>` as a form to each client's
 * `backchannel_logout_uri`. Delivery is fire-and-forget for the user (logout never waits on a
 * client), with a per-attempt timeout and a few retries with exponential backoff; `drain()` lets
 * the server finish pending deliveries before it exits.
 *
 * The URI is the client's to choose, so the sender is a request-forgery vector: it only posts to
 * https (or http on loopback, see domain/redirect_uris.ts), and it resolves the host itself first
 * and refuses link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata services live
 * there). The connection then goes to the address that was checked (the socket's DNS lookup is
 * pinned to it), so a second, different DNS answer cannot redirect it.
 *
 * @module
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import type { Policy } from '../config/defaults.js'
import { uriProblem } from './redirect_uris.js'

export interface ResolvedAddress { address: string, family: number }
/** Resolves a host name to its addresses; injectable so tests never resolve real names. */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>

const systemLookup: HostLookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true })

/** 169.254.0.0/16 and fe80::/10, also as IPv4-mapped IPv6 (::ffff:169.254.x.x). */
export function isLinkLocal (address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '')
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(a)
  if (v4) return v4[1] === '169' && v4[2] === '254'
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(a)
  if (mapped) return parseInt(mapped[1], 16) === 0xa9fe
  return /^fe[89ab][0-9a-f]?:/.test(a)
}

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
  readonly #fetch: typeof fetch | undefined
  readonly #lookup: HostLookup
  #closing = false

  /**
   * `fetchImpl` replaces the transport (tests); by default deliveries go over node:http(s) to the
   * checked address. `lookup` replaces DNS resolution (tests).
   */
  constructor (options: Policy['backchannelLogout'], log: BackchannelLogger, fetchImpl?: typeof fetch, lookup: HostLookup = systemLookup) {
    this.#options = options
    this.#log = log
    this.#fetch = fetchImpl
    this.#lookup = lookup
  }

  /** The address to connect to, or the reason not to connect at all. */
  async #destination (uri: string): Promise<ResolvedAddress | string> {
    const problem = uriProblem(uri, 'backchannel_logout_uri')
    if (problem) return problem
    const hostname = new URL(uri).hostname.replace(/^\[|\]$/g, '')
    let addresses: ResolvedAddress[]
    try {
      addresses = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await this.#lookup(hostname)
    } catch (err) {
      return `cannot resolve ${hostname}: ${(err as Error).message}`
    }
    if (!addresses.length) return `cannot resolve ${hostname}`
    // Refuse when any answer is link-local: the next resolution might return that one.
    const linkLocal = addresses.find((a) => isLinkLocal(a.address))
    if (linkLocal) return `${hostname} resolves to the link-local address ${linkLocal.address}`
    return addresses[0]
  }

  async #post (uri: string, body: string, to: ResolvedAddress, timeoutMs: number): Promise<number> {
    if (this.#fetch) {
      const res = await this.#fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      })
      await res.body?.cancel()
      return res.status
    }
    return postPinned(uri, body, to, timeoutMs)
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
    const body = new URLSearchParams({ logout_token: logoutToken }).toString()
    let lastError = ''
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const to = await this.#destination(uri)
        if (typeof to === 'string') {
          this.#log.warn({ event: 'backchannel_logout_refused', client_id: clientId, reason: to }, 'back-channel logout refused')
          return
        }
        const status = await this.#post(uri, body, to, timeoutMs)
        // §2.8: "If the logout succeeded, the RP MUST respond with HTTP 200 OK" (204 is common too).
        if (status === 200 || status === 204) {
          this.#log.info({ event: 'backchannel_logout_delivered', client_id: clientId, attempt }, 'back-channel logout delivered')
          return
        }
        lastError = `HTTP ${status}`
        // A 400 means the client rejected the token; retrying the same token will not help.
        if (status === 400) break
      } catch (err) {
        const name = (err as Error).name
        lastError = name === 'TimeoutError' || name === 'AbortError' ? `timed out after ${timeoutMs} ms` : (err as Error).message
      }
      if (attempt < attempts && !this.#closing) await sleep(backoffMs * 2 ** (attempt - 1))
      else if (this.#closing) break
    }
    this.#log.warn({ event: 'backchannel_logout_failed', client_id: clientId, error: lastError }, 'back-channel logout not delivered')
  }
}

/** POSTs a form over node:http(s), connecting only to `to` (TLS still verifies the URI's host name). */
function postPinned (uri: string, body: string, to: ResolvedAddress, timeoutMs: number): Promise<number> {
  const url = new URL(uri)
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (err: null, addresses: ResolvedAddress[]) => void)(null, [to])
    else callback(null, to.address, to.family)
  }
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      lookup: pinned,
      signal: AbortSignal.timeout(timeoutMs),
      // One connection per delivery: a pooled socket could outlive the address check.
      agent: false,
    }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on('error', reject)
    request.end(body)
  })
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
