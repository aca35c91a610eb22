import { randomBytes } from 'node:crypto'
import { kekFromBase64url, seal, open } from '/work/wt/h15e/src/crypto/kek.js'
import { newTOTPSecret, matchingStep, totp } from '/work/wt/h15e/src/domain/totp.js'
const kek = kekFromBase64url(randomBytes(32).toString('base64url'))
const secret = newTOTPSecret()
const sealed = seal(kek, secret, 'totp:x')
const N = 20000
let t0 = performance.now()
for (let i = 0; i < N; i++) open(kek, sealed, 'totp:x')
const openUs = (performance.now() - t0) / N * 1000
const now = Date.now(); const code = totp(secret, now)
t0 = performance.now()
for (let i = 0; i < N; i++) matchingStep(secret, code, now)
const matchUs = (performance.now() - t0) / N * 1000
console.log(`open ${openUs.toFixed(1)} µs, matchingStep ${matchUs.toFixed(1)} µs`)
