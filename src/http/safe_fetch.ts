/**
 * An HTTP GET hardened against server-side request forgery, for URLs that strangers choose
 * (client ID metadata documents: any authorization request can name one).
 *
 * - The host name is resolved first (injectable `lookup`), and every address it resolves to is
 *   checked: loopback, private, link-local, multicast, unspecified, and other special-purpose
 *   ranges (IPv4 and IPv6, IPv4-mapped and NAT64 forms included) are refused. One refused address
 *   refuses the name: a name answering both a public and a private address is an attack.
 * - The connection goes to the checked address (the socket's lookup is pinned to it): no second
 *   resolution, so DNS rebinding between check and connect is impossible. TLS still verifies the
 *   certificate against the host name.
 * - No redirects, a size limit enforced while reading, one timeout for the whole exchange.
 *
 * @module
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { isIP } from 'node:net'
import type { LookupFunction } from 'node:net'

export interface ResolvedAddress { address: string, family: 4 | 6 }

export interface SafeFetchOptions {
  /** Resolves a host name to all its addresses (default: the system resolver). */
  lookup?: (hostname: string) => Promise<ResolvedAddress[]>
  /** Development and tests only: loopback addresses are allowed. */
  allowLoopback?: boolean
  /**
   * Private network ranges (RFC 1918, RFC 4193 unique local) are allowed: for servers an
   * administrator configured (an on-premises identity provider), never for URLs strangers choose.
   * Link-local, multicast and the other special ranges stay refused.
   */
  allowPrivate?: boolean
  /** GET unless given (a token request POSTs a form). */
  method?: 'GET' | 'POST'
  body?: string | Buffer
  timeoutMs: number
  maxBytes: number
  /** Extra trusted CA certificates (tests with a self-signed server). */
  ca?: string | Buffer | Array<string | Buffer>
  /** Request headers (e.g. Accept). */
  headers?: Record<string, string>
}

export interface SafeResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export type FetchRefusal = 'address' | 'dns' | 'redirect' | 'too_large' | 'timeout' | 'network' | 'protocol'

/** The fetch was refused or failed; `message` is safe to show to the user who caused it. */
export class FetchRefused extends Error {
  override name = 'FetchRefused'
  readonly reason: FetchRefusal
  constructor (reason: FetchRefusal, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

async function systemLookup (hostname: string): Promise<ResolvedAddress[]> {
  const results = await dnsLookup(hostname, { all: true, verbatim: true })
  return results.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }))
}

/** The 16 bytes of a (syntactically valid, per `isIP`) IPv6 address, embedded dotted quad allowed. */
function ipv6Bytes (address: string): number[] | null {
  let text = address.replace(/^\[|\]$/g, '').split('%')[0]
  let tail: number[] = []
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (quad) {
    const v4 = ipv4Bytes(quad[2])
    if (!v4) return null
    tail = v4
    text = quad[1].endsWith('::') ? quad[1] : quad[1].slice(0, -1)
  }
  const words = tail.length ? 6 : 8
  const halves = text.split('::')
  if (halves.length > 2) return null
  const head = halves[0] ? halves[0].split(':') : []
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : []
  const missing = words - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null
  const bytes: number[] = []
  for (const g of [...head, ...Array<string>(missing).fill('0'), ...rest]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null
    const n = parseInt(g, 16)
    bytes.push(n >> 8, n & 0xff)
  }
  bytes.push(...tail)
  return bytes.length === 16 ? bytes : null
}

function ipv4Bytes (address: string): number[] | null {
  const parts = address.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null
  return parts.map(Number)
}

/** Why an IPv4 address may not be fetched from, or null when it is a public unicast address. */
function classifyIPv4 (b: number[]): 'loopback' | 'special' | null {
  const [a, c] = [b[0], b[1]]
  if (a === 127) return 'loopback'
  if (a === 0 || a === 10 || a >= 224) return 'special' // this network, private, multicast, reserved, broadcast
  if (a === 100 && c >= 64 && c <= 127) return 'special' // shared address space (RFC 6598)
  if (a === 169 && c === 254) return 'special' // link-local (cloud metadata endpoints live here)
  if (a === 172 && c >= 16 && c <= 31) return 'special'
  if (a === 192 && c === 168) return 'special'
  if (a === 192 && c === 0 && (b[2] === 0 || b[2] === 2)) return 'special' // IETF protocol assignments, TEST-NET-1
  if (a === 198 && (c === 18 || c === 19)) return 'special' // benchmarking
  if (a === 198 && c === 51 && b[2] === 100) return 'special'
  if (a === 203 && c === 0 && b[2] === 113) return 'special'
  return null
}

function classifyIPv6 (b: number[]): 'loopback' | 'special' | null {
  const zeroUntil = (n: number) => b.slice(0, n).every((x) => x === 0)
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address: judge that.
  if (zeroUntil(10) && b[10] === 0xff && b[11] === 0xff) return classifyIPv4(b.slice(12))
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) return classifyIPv4(b.slice(12))
  if (zeroUntil(15) && b[15] === 1) return 'loopback'
  if (zeroUntil(12)) return 'special' // unspecified (::) and deprecated IPv4-compatible
  if ((b[0] & 0xfe) === 0xfc) return 'special' // unique local fc00::/7
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'special' // link-local fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 'special' // site-local fec0::/10
  if (b[0] === 0xff) return 'special' // multicast
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'special' // documentation
  if (b[0] === 0x01 && b[1] === 0x00 && b.slice(2, 8).every((x) => x === 0)) return 'special' // discard 100::/64
  return null
}

/** 'loopback', 'special' (any other non-public range), 'invalid', or null for a public address. */
export function classifyAddress (address: string): 'loopback' | 'special' | 'invalid' | null {
  const family = isIP(address.replace(/^\[|\]$/g, ''))
  if (family === 4) return classifyIPv4(ipv4Bytes(address)!)
  if (family === 6) {
    const bytes = ipv6Bytes(address)
    return bytes ? classifyIPv6(bytes) : 'invalid'
  }
  return 'invalid'
}

/** RFC 1918 and RFC 4193 addresses (IPv4-mapped forms included). */
export function isPrivateNetwork (address: string): boolean {
  const literal = address.replace(/^\[|\]$/g, '')
  let b: number[] | null = null
  if (isIP(literal) === 4) b = ipv4Bytes(literal)
  else if (isIP(literal) === 6) {
    const v6 = ipv6Bytes(literal)
    if (!v6) return false
    if (v6.slice(0, 10).every((x) => x === 0) && v6[10] === 0xff && v6[11] === 0xff) b = v6.slice(12)
    else return (v6[0] & 0xfe) === 0xfc
  }
  if (!b) return false
  return b[0] === 10 || (b[0] === 172 && b[1] >= 16 && b[1] <= 31) || (b[0] === 192 && b[1] === 168)
}

/** Resolves and checks `hostname`; the address to connect to. */
async function checkedAddress (hostname: string, options: SafeFetchOptions): Promise<ResolvedAddress> {
  const literal = hostname.replace(/^\[|\]$/g, '')
  let addresses: ResolvedAddress[]
  if (isIP(literal)) {
    addresses = [{ address: literal, family: isIP(literal) === 6 ? 6 : 4 }]
  } else {
    try {
      addresses = await (options.lookup ?? systemLookup)(hostname)
    } catch (err) {
      throw new FetchRefused('dns', `the host name ${hostname} could not be resolved`, { cause: err })
    }
  }
  if (!addresses.length) throw new FetchRefused('dns', `the host name ${hostname} has no address`)
  for (const { address } of addresses) {
    const kind = classifyAddress(address)
    if (kind === null || (kind === 'loopback' && options.allowLoopback)) continue
    if (kind === 'special' && options.allowPrivate && isPrivateNetwork(address)) continue
    throw new FetchRefused('address', `${hostname} resolves to a ${kind === 'loopback' ? 'loopback' : 'private or reserved'} address, which this server does not fetch from`)
  }
  return addresses[0]
}

/** GET (or POST) `url` under the rules above. Throws {@link FetchRefused}. */
export async function safeFetch (url: URL, options: SafeFetchOptions): Promise<SafeResponse> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new FetchRefused('protocol', 'only http(s) URLs are fetched')
  const deadline = AbortSignal.timeout(options.timeoutMs)
  const target = await raceDeadline(checkedAddress(url.hostname, options), deadline, options.timeoutMs)
  // The socket connects to the address checked above, never to a fresh resolution.
  const pinned: LookupFunction = (_host, lookupOptions, callback) => {
    const cb = callback as unknown as (err: Error | null, address: string | Array<{ address: string, family: number }>, family?: number) => void
    if ((lookupOptions as { all?: boolean }).all) cb(null, [{ address: target.address, family: target.family }])
    else cb(null, target.address, target.family)
  }
  const client = url.protocol === 'https:' ? https : http
  return new Promise<SafeResponse>((resolve, reject) => {
    const request = client.request(url, {
      method: options.method ?? 'GET',
      lookup: pinned,
      ...(url.protocol === 'https:' && options.ca ? { ca: options.ca } : {}),
      headers: { 'accept-encoding': 'identity', ...options.headers },
      signal: deadline,
      agent: false,
    }, (response) => {
      const status = response.statusCode ?? 0
      if (status >= 300 && status < 400) {
        response.destroy()
        return reject(new FetchRefused('redirect', `the server answered with a redirect (${status}), which is not followed`))
      }
      const declared = Number(response.headers['content-length'])
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        response.destroy()
        return reject(new FetchRefused('too_large', `the document is larger than ${options.maxBytes} bytes`))
      }
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > options.maxBytes) {
          response.destroy()
          reject(new FetchRefused('too_large', `the document is larger than ${options.maxBytes} bytes`))
          return
        }
        chunks.push(chunk)
      })
      response.on('end', () => resolve({ status, headers: response.headers, body: Buffer.concat(chunks) }))
      response.on('error', (err) => reject(failure(err, deadline)))
    })
    request.on('error', (err) => reject(failure(err, deadline)))
    request.end(options.body)
  })
}

function failure (err: Error, deadline: AbortSignal): FetchRefused {
  if (err instanceof FetchRefused) return err
  if (deadline.aborted) return new FetchRefused('timeout', 'the server did not answer in time', { cause: err })
  return new FetchRefused('network', 'the document could not be fetched', { cause: err })
}

async function raceDeadline<T> (work: Promise<T>, deadline: AbortSignal, ms: number): Promise<T> {
  if (deadline.aborted) throw new FetchRefused('timeout', 'the server did not answer in time')
  let onAbort!: () => void
  const timeout = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new FetchRefused('timeout', `the host name was not resolved within ${ms} ms`))
    deadline.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    deadline.removeEventListener('abort', onAbort)
  }
}
