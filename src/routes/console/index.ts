/**
 * The admin console at /console: a single-page app (console/, built by Vite into dist/console)
 * that signs in through Stamp's own authorization endpoint as the `stamp-console` client
 * (authorization code + PKCE, `stamp:admin`) and then calls the admin API with the access token,
 * like any other client. It has no other path to the data.
 *
 * Browser-based app guidance (draft-ietf-oauth-browser-based-apps): tokens live in the page's
 * memory only (never localStorage/sessionStorage); the admin API takes them as a Bearer header,
 * which a cross-site page cannot make a browser send, so no state-changing call can be forged
 * (and /admin accepts JSON bodies only). Every response here carries a strict CSP: only this
 * origin's script files (no inline script, no eval), no framing (`frame-ancestors 'none'`).
 *
 * Routes: the files by name (hashed names cached for a year), `/console/config.json` (what the
 * app needs to sign in, derived from the issuer), and index.html for every other path under
 * /console (the app routes client-side).
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { CONSOLE_CLIENT_ID, CONSOLE_PATH, CONSOLE_SCOPES, consoleRedirectURI, ensureConsoleClient } from '../../domain/console_client.js'
import { publicIssuer } from '../../http/public_issuer.js'
import { ENDPOINTS } from '../well_known/discovery.js'
import { sendErrorPage } from '../oauth/browser.js'
import { loadConsoleAssets, type ConsoleAsset } from './assets.js'

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join('; ')

function securityHeaders (reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    // The callback URL carries the authorization code: never in a Referer.
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
}

export default async function consoleRoutes (app: FastifyInstance): Promise<void> {
  if (!app.config.console) return
  const assets = loadConsoleAssets()
  const outcome = await ensureConsoleClient(app.clientStore, app.config.issuer)
  app.clientCache.forget(CONSOLE_CLIENT_ID)
  const refused = typeof outcome === 'object' ? outcome.refused : undefined
  if (refused) app.log.warn({ client_id: CONSOLE_CLIENT_ID, reason: refused }, 'admin console sign-in unavailable: ISSUER must be https (or http on loopback)')
  if (!assets.size) app.log.warn('admin console not built (npm run build); /console answers 503')

  function send (request: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset): FastifyReply {
    securityHeaders(reply)
      .header('content-type', asset.type)
      .header('etag', asset.etag)
      .header('vary', 'accept-encoding')
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      return reply.header('content-encoding', 'gzip').send(asset.gzip)
    }
    return reply.send(asset.body)
  }

  function page (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const index = assets.get('index.html')
    if (!index) return sendErrorPage(reply, 503, 'console.unbuilt.title', 'console.unbuilt.message')
    return send(request, reply, index)
  }

  app.get(CONSOLE_PATH, (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 302))

  app.get(`${CONSOLE_PATH}/config.json`, async (request, reply) => {
    const issuer = publicIssuer(request)
    securityHeaders(reply).header('cache-control', 'no-store')
    return {
      issuer,
      client_id: CONSOLE_CLIENT_ID,
      redirect_uri: consoleRedirectURI(issuer),
      scope: CONSOLE_SCOPES.join(' '),
      authorization_endpoint: `${issuer}${ENDPOINTS.authorization}`,
      token_endpoint: `${issuer}${ENDPOINTS.token}`,
      revocation_endpoint: `${issuer}${ENDPOINTS.revocation}`,
      end_session_endpoint: `${issuer}${ENDPOINTS.endSession}`,
      sign_in_unavailable: refused ?? null,
    }
  })

  app.get<{ Params: { '*': string } }>(`${CONSOLE_PATH}/*`, (request, reply) => {
    const path = request.params['*']
    const asset = assets.get(path)
    if (asset && path !== 'index.html') return send(request, reply, asset)
    // A missing hashed file is a stale page asking for an old build: 404, not the app's HTML.
    if (path.startsWith('assets/')) return reply.code(404).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'no such console file' })
    return page(request, reply)
  })
}
