/**
 * Federated sign-in end to end over real HTTP: an app's /authorize at Stamp, "Continue with
 * NAME", the upstream's login (node-oidc-provider with its development interactions, or a tiny
 * plain OAuth 2 server), Stamp's callback, the code back at the app and Stamp-signed tokens.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import Provider from 'oidc-provider'
import { createLocalJWKSet, jwtVerify } from 'jose'
import type { FastifyInstance } from 'fastify'
import { createClient, createUser, postForm, type TestClient } from '../helper.js'
import { freePort, startStamp, type StampServer } from '../fixtures/stamp_server.js'
import { hiddenFields, pkce } from '../fixtures/browser.js'
import type { IdentityProviderRecord } from '../../src/storage/types.js'
import type { ProviderInput } from '../../src/domain/federation/providers.js'

const APP = 'https://app.example/cb'
const UPSTREAM_SECRET = 'upstream-client-secret-' + randomBytes(8).toString('hex')

type Teardown = { teardown(fn: () => unknown): void }

/** A cookie jar per origin and a manual redirect follower over real HTTP (fetch). */
class HttpBrowser {
  readonly jars = new Map<string, Map<string, string>>()

  jar (url: string): Map<string, string> {
    const origin = new URL(url).origin
    let jar = this.jars.get(origin)
    if (!jar) this.jars.set(origin, jar = new Map())
    return jar
  }

  async request (method: 'GET' | 'POST', url: string, form?: Record<string, string>): Promise<{ url: string, status: number, headers: Headers, body: string }> {
    const jar = this.jar(url)
    const headers: Record<string, string> = {}
    if (jar.size) headers.cookie = [...jar].map(([n, v]) => `${n}=${v}`).join('; ')
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded'
    const res = await fetch(url, { method, headers, body: form ? new URLSearchParams(form).toString() : undefined, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a))
      if (expired || value === '') jar.delete(name)
      else jar.set(name, value)
    }
    return { url, status: res.status, headers: res.headers, body: await res.text() }
  }

  /** Follows redirects on loopback; stops at the first one elsewhere (the app) and returns it. */
  async follow (url: string, form?: Record<string, string>, stop?: (u: URL) => boolean) {
    let res = await this.request(form ? 'POST' : 'GET', url, form)
    for (let hops = 0; hops < 15; hops++) {
      const location = res.headers.get('location')
      if (!location || res.status < 300 || res.status > 399) return { res }
      const target = new URL(location, res.url)
      if (target.hostname !== '127.0.0.1' || stop?.(target)) return { res, location: target }
      res = await this.request('GET', target.href)
    }
    throw new Error('too many redirects')
  }
}

function formAction (body: string, base: string): string {
  const m = /<form[^>]*action="([^"]+)"/.exec(body)
  if (!m) throw new Error(`no form in ${body.slice(0, 300)}`)
  return new URL(m[1].replace(/&amp;/g, '&'), base).href
}

/** node-oidc-provider on 127.0.0.1:0 with its development login; accounts have `<login>@example.com`. */
async function startUpstream (t: Teardown, stampIssuer: string, options: { clientId?: string } = {}) {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const provider = new Provider(issuer, {
    clients: [{
      client_id: options.clientId ?? 'stamp', client_secret: UPSTREAM_SECRET, redirect_uris: [`${stampIssuer}/federation/callback`],
      grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    async findAccount (_ctx: unknown, id: string) {
      return { accountId: id, claims: async () => ({ sub: id, email: `${id}@example.com`, email_verified: true, name: `Upstream ${id}`, preferred_username: id }) }
    },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: true } },
  })
  const server = createServer(provider.callback())
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { issuer, provider, server }
}

async function setupStamp (t: Teardown, env: Record<string, string> = {}) {
  const stamp = await startStamp(t, { FEDERATION_ALLOW_LOOPBACK: 'true', ...env })
  const client = await createClient(stamp.app, {
    name: 'The App', firstParty: true, grantTypes: ['authorization_code'], redirectUris: [APP], scopes: ['openid', 'profile', 'email'],
  })
  return { stamp, client }
}

async function addProvider (app: FastifyInstance, input: ProviderInput): Promise<IdentityProviderRecord> {
  return app.identityProviders.create(input, { actor: 'test' })
}

function authorize (stamp: StampServer, client: TestClient, challenge: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    client_id: client.client.id, redirect_uri: APP, response_type: 'code', scope: 'openid profile email', state: 'app-state', nonce: 'app-nonce',
    code_challenge: challenge, code_challenge_method: 'S256', ...extra,
  })
  return `${stamp.issuer}/authorize?${q}`
}

/** The login page's "Continue with NAME" form for `slug`: its fields. */
function continueForm (body: string, slug: string): Record<string, string> {
  for (const m of body.matchAll(/<form method="post" action="[^"]*\/federation\/start">([\s\S]*?)<\/form>/g)) {
    const fields = hiddenFields(m[1])
    if (fields.provider === slug) return fields
  }
  throw new Error(`no Continue form for ${slug}`)
}

/**
 * From the Stamp login page to the upstream's redirect back to Stamp's callback (not followed):
 * Continue → upstream login (any user) → consent.
 */
async function upstreamLeg (browser: HttpBrowser, stamp: StampServer, loginPage: string, slug: string, login: string): Promise<URL> {
  const toUpstream = await browser.request('POST', `${stamp.issuer}/federation/start`, continueForm(loginPage, slug))
  if (toUpstream.status !== 303 && toUpstream.status !== 302) throw new Error(`start answered ${toUpstream.status}: ${toUpstream.body.slice(0, 500)}`)
  const isCallback = (u: URL) => u.href.startsWith(`${stamp.issuer}/federation/callback`)
  let step = await browser.follow(new URL(toUpstream.headers.get('location')!).href, undefined, isCallback)
  for (let i = 0; i < 4 && !step.location; i++) {
    const action = formAction(step.res.body, step.res.url)
    const prompt = /name="prompt" value="(\w+)"/.exec(step.res.body)?.[1]
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any' } : { prompt: prompt ?? 'consent' }
    step = await browser.follow(action, form, isCallback)
  }
  if (!step.location || !isCallback(step.location)) throw new Error(`the upstream did not redirect back: ${step.res.status} ${step.res.body.slice(0, 500)}`)
  return step.location
}

async function startAtStamp (browser: HttpBrowser, stamp: StampServer, client: TestClient, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce()
  const page = await browser.follow(authorize(stamp, client, challenge, extra))
  return { page: page.res, verifier }
}

async function tokens (app: FastifyInstance, client: TestClient, code: string, verifier: string) {
  const res = await postForm(app, '/token', { grant_type: 'authorization_code', code, redirect_uri: APP, code_verifier: verifier }, { authorization: client.basic })
  return res
}

async function verifyIdToken (stamp: StampServer, client: TestClient, idToken: string) {
  const jwks = createLocalJWKSet((await stamp.app.inject('/jwks')).json())
  return (await jwtVerify(idToken, jwks, { issuer: stamp.issuer, audience: client.client.id })).payload
}

function assertErrorPage (t: Test, res: { status: number, headers: Headers, body: string }, status: number, text: RegExp, back = true) {
  t.equal(res.status, status, `status ${status}`)
  t.match(res.headers.get('content-type'), /text\/html/, 'an HTML page')
  t.match(res.body, text)
  t.notMatch(res.body, /at [\w.]+ \(|stack|Internal Server Error/i, 'no stack trace')
  if (back) t.match(res.body, /href="[^"]*\/login\?request=[^"]+"/, 'a link back to the sign-in page')
}

t.test('OIDC upstream: app → Stamp → upstream login → Stamp → app, Stamp-signed tokens, JIT user', async (t) => {
  const { stamp, client } = await setupStamp(t)
  const upstream = await startUpstream(t, stamp.issuer)
  await addProvider(stamp.app, { slug: 'corp', displayName: 'Corp IdP', issuer: upstream.issuer, clientId: 'stamp', clientSecret: UPSTREAM_SECRET, jit: true })

  const browser = new HttpBrowser()
  const { page, verifier } = await startAtStamp(browser, stamp, client)
  t.equal(page.status, 200, 'the login page')
  t.match(page.body, /Continue with Corp IdP/, 'the login page lists the provider')
  const csp = page.headers.get('content-security-policy') ?? ''
  t.ok(csp.includes(upstream.issuer), 'CSP form-action allows the upstream')

  const callback = await upstreamLeg(browser, stamp, page.body, 'corp', 'dave')
  t.ok(callback.searchParams.get('code'), 'the upstream sent a code')
  t.equal(callback.searchParams.get('iss'), upstream.issuer, 'RFC 9207 iss from the upstream')
  const back = await browser.follow(callback.href)
  t.ok(back.location, `redirected to the app (${back.res.status} ${back.res.body.slice(0, 300)})`)
  t.equal(back.location!.origin + back.location!.pathname, APP)
  t.equal(back.location!.searchParams.get('state'), 'app-state')
  const code = back.location!.searchParams.get('code')!

  const res = await tokens(stamp.app, client, code, verifier)
  t.equal(res.statusCode, 200, 'the token endpoint answers')
  const id = await verifyIdToken(stamp, client, res.json().id_token)
  t.match(id.amr, ['fed'], 'amr carries fed')
  t.ok((id.amr as string[]).includes('fed'))
  t.equal(id.nonce, 'app-nonce')
  const user = await stamp.app.usersRepository.findById(String(id.sub))
  t.ok(user, 'the JIT user exists')
  t.equal(user!.email, 'dave@example.com', 'email from the upstream userinfo')
  t.equal(user!.username, 'dave')
  const links = await stamp.app.federation.linksFor(user!.id)
  t.equal(links.length, 1, 'linked to (provider, sub)')
  t.equal(links[0].subject, 'dave')

  // The next sign-in from a fresh browser reuses the link (no second user).
  const again = new HttpBrowser()
  const second = await startAtStamp(again, stamp, client)
  const back2 = await again.follow((await upstreamLeg(again, stamp, second.page.body, 'corp', 'dave')).href)
  const res2 = await tokens(stamp.app, client, back2.location!.searchParams.get('code')!, second.verifier)
  t.equal((await verifyIdToken(stamp, client, res2.json().id_token)).sub, user!.id, 'same user the second time')
})
