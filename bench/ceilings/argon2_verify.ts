/**
 * Raw ceiling: argon2id verifications per second at Stamp's configured cost, alone in its own
 * process. argon2 runs on the libuv threadpool, so many verifications are kept in flight.
 * Prints one JSON line.
 *
 * Usage: node --import tsx bench/ceilings/argon2_verify.ts <concurrency> <warmupMs> <durationMs>
 *
 * @module
 */
import argon2 from 'argon2'
import { defaults } from '../../src/config/defaults.js'
import { closedLoop } from '../stats.js'

const [concurrency = 16, warmupMs = 1000, durationMs = 3000] = process.argv.slice(2).map(Number)
const password = 'correct horse battery staple'
const hash = await argon2.hash(password, { ...defaults.argon2, type: argon2.argon2id })

const result = await closedLoop(async () => {
  if (!await argon2.verify(hash, password)) throw new Error('argon2 verification failed')
}, { concurrency, warmupMs, durationMs })
process.stdout.write(JSON.stringify({ concurrency, params: defaults.argon2, ...result }) + '\n')
