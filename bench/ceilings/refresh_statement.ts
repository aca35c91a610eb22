/**
 * Raw ceiling: the refresh grant's one SQL statement alone (consume a refresh token, store its
 * successor, commit), in its own process over pg with many chains in flight, as Stamp runs it.
 * No HTTP, no JWT, no signature: what PostgreSQL and the driver allow on these cores.
 *
 * Usage: node --import tsx bench/ceilings/refresh_statement.ts <databaseUrl> <concurrency> <warmupMs> <durationMs>
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { exchangeRefreshToken } from '../../src/storage/prisma/refresh_tokens.js'
import { closedLoop } from '../stats.js'

const [url, ...rest] = process.argv.slice(2)
const [concurrency = 32, warmupMs = 1000, durationMs = 3000] = rest.map(Number)
const pool = new pg.Pool({ connectionString: url, max: 20 }) // Stamp's pool size

const { rows: [user] } = await pool.query<{ id: string }>('SELECT id FROM users LIMIT 1')
const { rows: [client] } = await pool.query<{ client_id: string }>("SELECT client_id FROM clients WHERE 'refresh_token' = ANY(grant_types) AND 'password' = ANY(grant_types) LIMIT 1")
const expiresAt = () => new Date((Math.floor(Date.now() / 1000) + 86_400) * 1000)
const chains = await Promise.all(Array.from({ length: concurrency }, async () => {
  const jti = randomUUID()
  await pool.query(`INSERT INTO refresh_tokens (jti, family_id, user_id, client_id, scope, audience, kid, expires_at)
    VALUES ($1, $2, $3, $4, 'read', ARRAY['https://api.example.com'], 'bench', $5)`, [jti, randomUUID(), user.id, client.client_id, expiresAt()])
  return { jti }
}))

// A chain is taken by one call at a time and handed back with its new token, like a client.
const idle = [...chains]
const result = await closedLoop(async () => {
  const chain = idle.shift()!
  const successor = { jti: randomUUID(), kid: 'bench', expiresAt: expiresAt() }
  const exchanged = await exchangeRefreshToken(pool, { jti: chain.jti, clientId: client.client_id, successor, now: new Date(), familyMaxAge: 30 * 86_400, userBaselineScopes: ['openid', 'profile', 'email', 'offline_access'],
    // As the grant does for the bench's first-party client: the hints from the token's claims.
    firstParty: true, presented: { scope: 'read', subject: user.id } })
  if (!exchanged?.rotated) throw new Error('refresh statement did not rotate')
  chain.jti = successor.jti
  idle.push(chain)
}, { concurrency, warmupMs, durationMs })
await pool.end()
process.stdout.write(JSON.stringify({ concurrency, ...result }) + '\n')
