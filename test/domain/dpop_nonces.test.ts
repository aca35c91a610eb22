import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createDPoPNonces } from 'stamp-verifier'

// The server's nonces (DPOP_NONCE) are the verifier SDK's: one implementation, so the exact-string
// rule below holds at /token, /userinfo and at resources alike.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

t.test('RFC 9449 §8: only the nonce issued is accepted, not another spelling of its MAC', async (t) => {
  let now = 1_800_000_000_000
  const nonces = createDPoPNonces(randomBytes(32), 60, () => now)
  for (let i = 0; i < 32; i++, now += 60_000) {
    const nonce = nonces.current()
    t.ok(nonces.accepts(nonce))
    const last = ALPHABET.indexOf(nonce.at(-1)!)
    // Flipping the lowest bit of the last character changes only padding bits.
    const sibling = nonce.slice(0, -1) + ALPHABET[last ^ 1]
    t.notOk(nonces.accepts(sibling), `${sibling} refused`)
    const upper = nonce.slice(0, -1) + ALPHABET[last ^ 32]
    t.notOk(nonces.accepts(upper), `${upper} refused`)
  }
})
