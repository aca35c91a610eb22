/**
 * Raw ceiling: RS256 JWT signatures per second with jose, alone in its own process.
 *
 * jose signs through WebCrypto, whose RSA work runs on the libuv threadpool, so keeping many
 * signatures in flight uses both cores. The claims mirror a Stamp access token (RFC 9068), so the
 * JSON and base64url work per token is comparable too. Prints one JSON line.
 *
 * Usage: node --import tsx bench/ceilings/rs256_sign.ts <concurrency> <warmupMs> <durationMs>
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { SignJWT, generateKeyPair } from 'jose'
import { closedLoop } from '../stats.js'

const [concurrency = 64, warmupMs = 1000, durationMs = 3000] = process.argv.slice(2).map(Number)
const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 })

const sign = () => {
  const iat = Math.floor(Date.now() / 1000)
  return new SignJWT({ client_id: 'bench-client', scope: 'read write' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-kid-0123456789abcdef', typ: 'at+jwt' })
    .setIssuer('http://localhost:4000')
    .setSubject('bench-client')
    .setAudience('https://api.example.com')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 300)
    .setJti(randomUUID())
    .sign(privateKey)
}

const result = await closedLoop(sign, { concurrency, warmupMs, durationMs })
process.stdout.write(JSON.stringify({ concurrency, ...result }) + '\n')
