/**
 * The hand-written compact-JWS check of DPoP proofs (packages/verifier/src/jws.ts): each
 * algorithm with its own key type only, and every malformed or tampered proof refused. Proofs are
 * signed here with node:crypto, so each defect is exactly the one tested.
 *
 * @module
 */
import t, { type Test } from 'tap'
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { DPoPProofInvalid, ProofJWSVerifier, decodeBase64url, jwkThumbprint } from '../../packages/verifier/src/index.js'

const enc = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const ALL = ['ES256', 'RS256', 'PS256', 'EdDSA']

interface Key { alg: string, privateKey: KeyObject, jwk: Record<string, unknown> }

function key (alg: string, options: { curve?: string, bits?: number } = {}): Key {
  const pair = alg === 'EdDSA'
    ? generateKeyPairSync('ed25519')
    : alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: options.curve ?? 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: options.bits ?? 2048 })
  return { alg, privateKey: pair.privateKey, jwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown> }
}

function signWith (alg: string, privateKey: KeyObject, input: string): Buffer {
  const data = Buffer.from(input)
  switch (alg) {
    case 'ES256': return sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
    case 'PS256': return sign('sha256', data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    case 'RS256': return sign('sha256', data, privateKey)
    default: return sign(null, data, privateKey)
  }
}

/** A proof signed by `k`; `header` overrides header members, `alg` the signing algorithm. */
function proof (k: Key, options: { header?: Record<string, unknown>, claims?: Record<string, unknown>, signAs?: string } = {}): string {
  const header = enc({ typ: 'dpop+jwt', alg: k.alg, jwk: k.jwk, ...options.header })
  const payload = enc({ jti: 'j', htm: 'GET', htu: 'https://rs.example/x', iat: 1, ...options.claims })
  return `${header}.${payload}.${signWith(options.signAs ?? k.alg, k.privateKey, `${header}.${payload}`).toString('base64url')}`
}

/** Refused by verify() and by verifyAsync() (thread-pool signature check), with the same reason. */
async function refused (t: Test, verifier: ProofJWSVerifier, value: string, name: string, pattern?: RegExp): Promise<void> {
  for (const [how, run] of [['sync', async () => verifier.verify(value)], ['async', () => verifier.verifyAsync(value)]] as const) {
    try {
      await run()
      t.fail(`${name} (${how}): accepted`)
    } catch (err) {
      t.ok(err instanceof DPoPProofInvalid, `${name} (${how}): DPoPProofInvalid (${(err as Error).message})`)
      if (pattern) t.match((err as Error).message, pattern, `${name} (${how}): names the check`)
    }
  }
}

const keys = { ES256: key('ES256'), RS256: key('RS256'), PS256: key('PS256'), EdDSA: key('EdDSA') }

t.test('each algorithm verifies with its own key type; the claims and thumbprint come back', async (t) => {
  const verifier = new ProofJWSVerifier({ algorithms: ALL })
  for (const k of Object.values(keys)) {
    const result = verifier.verify(proof(k, { claims: { jti: `for-${k.alg}` } }))
    t.equal(result.alg, k.alg)
    t.equal(result.jkt, jwkThumbprint(k.jwk))
    t.equal(result.claims.jti, `for-${k.alg}`)
    // The second proof with the same header text takes the cached header: still verified.
    t.equal(verifier.verify(proof(k, { claims: { jti: 'again' } })).claims.jti, 'again', `${k.alg}: cached header`)
    const viaPool = await verifier.verifyAsync(proof(k, { claims: { jti: 'pool' } }))
    t.same([viaPool.alg, viaPool.jkt, viaPool.claims.jti], [k.alg, result.jkt, 'pool'], `${k.alg}: verifyAsync`)
  }
})

t.test('wrong algorithm for the key type, weak keys and other curves are refused', async (t) => {
  const verifier = new ProofJWSVerifier({ algorithms: ALL })
  const p384 = key('ES256', { curve: 'P-384' })
  const rsa1024 = key('PS256', { bits: 1024 })
  const cases: Array<[string, string]> = [
    ['ES256 header, RSA jwk', proof(keys.RS256, { header: { alg: 'ES256' }, signAs: 'RS256' })],
    ['PS256 header, EC jwk', proof(keys.ES256, { header: { alg: 'PS256' }, signAs: 'ES256' })],
    ['RS256 header, Ed25519 jwk', proof(keys.EdDSA, { header: { alg: 'RS256' }, signAs: 'EdDSA' })],
    ['EdDSA header, EC jwk', proof(keys.ES256, { header: { alg: 'EdDSA' }, signAs: 'ES256' })],
    ['ES256 with a P-384 key', proof(p384, {})],
    ['PS256 with a 1024-bit RSA key', proof(rsa1024, {})],
    ['RS256 with a 1024-bit RSA key', proof({ ...rsa1024, alg: 'RS256' }, {})],
  ]
  for (const [name, value] of cases) await refused(t, verifier, value, name, /does not fit alg/)
  // PS256 signature under an RS256 header on the same key: the padding is pinned by the header.
  await refused(t, verifier, proof(keys.PS256, { header: { alg: 'RS256' }, signAs: 'PS256' }), 'RS256 header, PSS signature', /signature/)
  await refused(t, verifier, proof(keys.RS256, { header: { alg: 'PS256' }, signAs: 'RS256' }), 'PS256 header, PKCS#1 v1.5 signature', /signature/)
})

t.test('algorithms outside the allow-list: none, HMAC, unknown, or not configured', async (t) => {
  const verifier = new ProofJWSVerifier({ algorithms: ['ES256', 'PS256'] })
  const k = keys.ES256
  const unsigned = (alg: string) => `${enc({ typ: 'dpop+jwt', alg, jwk: k.jwk })}.${enc({ jti: 'n' })}.`
  await refused(t, verifier, unsigned('none'), 'alg none (empty signature)', /algorithm/)
  await refused(t, verifier, `${unsigned('none')}AAAA`, 'alg none with a signature', /algorithm/)
  await refused(t, verifier, proof(k, { header: { alg: 'HS256' } }), 'alg HS256', /algorithm/)
  await refused(t, verifier, proof(k, { header: { alg: 'ES512' } }), 'alg ES512', /algorithm/)
  await refused(t, verifier, proof(keys.EdDSA), 'EdDSA, not configured', /algorithm/)
  await refused(t, verifier, proof(keys.RS256), 'RS256, not configured', /algorithm/)
  t.throws(() => new ProofJWSVerifier({ algorithms: ['ES256', 'HS256'] }), TypeError, 'HMAC cannot be configured')
  t.throws(() => new ProofJWSVerifier({ algorithms: ['none'] }), TypeError, 'none cannot be configured')
  t.throws(() => new ProofJWSVerifier({ algorithms: [] }), TypeError, 'an empty list cannot be configured')
})

t.test('tampered proofs: signature, payload, header, key', async (t) => {
  const verifier = new ProofJWSVerifier({ algorithms: ALL })
  for (const k of Object.values(keys)) {
    const good = proof(k)
    const [h, p, s] = good.split('.')
    const sig = Buffer.from(s, 'base64url')
    sig[sig.length >> 1] ^= 1
    await refused(t, verifier, `${h}.${p}.${sig.toString('base64url')}`, `${k.alg}: a flipped signature bit`, /signature/)
    await refused(t, verifier, `${h}.${enc({ jti: 'j', htm: 'POST', htu: 'https://rs.example/x', iat: 1 })}.${s}`, `${k.alg}: altered payload`, /signature/)
    await refused(t, verifier, `${h}.${p}.`, `${k.alg}: no signature`, /signature/)
    await refused(t, verifier, `${h}.${p}.${s.slice(0, -4)}`, `${k.alg}: truncated signature`, /signature/)
    const other = key(k.alg)
    // Same header text (the first key's jwk) signed by another key: the cached header does not skip the signature.
    await refused(t, verifier, proof(other, { header: { jwk: k.jwk } }), `${k.alg}: header of a known key, signed by another`, /signature/)
  }
  // An altered header is another header text: checked afresh, and the signature covers it.
  const [, p, s] = proof(keys.ES256).split('.')
  await refused(t, verifier, `${enc({ typ: 'dpop+jwt', alg: 'ES256', jwk: keys.ES256.jwk, kid: 'x' })}.${p}.${s}`, 'altered header', /signature/)
})

t.test('header checks: typ, crit, b64, jwk', async (t) => {
  const verifier = new ProofJWSVerifier({ algorithms: ALL })
  const k = keys.ES256
  // RFC 7515 §4.1.9: the same media type spelled in full or in other case (jose accepted these too).
  t.ok(verifier.verify(proof(k, { header: { typ: 'application/dpop+jwt' } })), 'typ application/dpop+jwt')
  t.ok(verifier.verify(proof(k, { header: { typ: 'DPoP+JWT' } })), 'typ DPoP+JWT')
  await refused(t, verifier, proof(k, { header: { typ: 'JWT' } }), 'typ JWT', /typ/)
  await refused(t, verifier, proof(k, { header: { typ: 'at+jwt' } }), 'typ at+jwt', /typ/)
  await refused(t, verifier, proof(k, { header: { typ: undefined } }), 'no typ', /typ/)
  await refused(t, verifier, proof(k, { header: { crit: ['exp'], exp: 1 } }), 'crit', /critical/)
  await refused(t, verifier, proof(k, { header: { crit: [] } }), 'empty crit', /critical/)
  await refused(t, verifier, proof(k, { header: { b64: false, crit: ['b64'] } }), 'b64 false with crit', /critical|base64url/)
  await refused(t, verifier, proof(k, { header: { b64: false } }), 'b64 false', /base64url-encoded payload/)
  await refused(t, verifier, proof(k, { header: { jwk: undefined } }), 'no jwk', /jwk/)
  await refused(t, verifier, proof(k, { header: { jwk: [k.jwk] } }), 'jwk an array', /jwk/)
  await refused(t, verifier, proof(k, { header: { jwk: k.privateKey.export({ format: 'jwk' }) } }), 'private jwk', /private/)
  await refused(t, verifier, proof(k, { header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } }), 'symmetric jwk', /private/)
  await refused(t, verifier, proof(k, { header: { jwk: { ...k.jwk, x: 'AAAA' } } }), 'jwk not on the curve', /not a valid public key|does not fit/)
})

t.test('strict compact serialization: base64url canonical, no padding, three parts, bounded size', async (t) => {
  const verifier = new ProofJWSVerifier({ algorithms: ALL })
  const k = keys.ES256
  const good = proof(k)
  const [h, p, s] = good.split('.')
  t.ok(verifier.verify(good))
  // 64-octet ES256 signature: 86 characters, the last carries 4 unused bits.
  const last = s.at(-1)!
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const stray = alphabet[alphabet.indexOf(last) | 1]
  t.not(stray, last, 'a spelling with a stray low bit')
  t.same(Buffer.from(`${s.slice(0, -1)}${stray}`, 'base64url'), Buffer.from(s, 'base64url'), 'Buffer decodes both spellings alike')
  await refused(t, verifier, `${h}.${p}.${s.slice(0, -1)}${stray}`, 'non-canonical signature (stray bits)', /signature/)
  await refused(t, verifier, `${h}.${p}.${s}==`, 'padded signature', /signature/)
  const padded = (text: string) => text + '='.repeat((4 - text.length % 4) % 4)
  if (padded(p) !== p) await refused(t, verifier, `${h}.${padded(p)}.${s}`, 'padded payload', /payload/)
  if (padded(h) !== h) await refused(t, verifier, `${padded(h)}.${p}.${s}`, 'padded header', /header/)
  await refused(t, verifier, `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64')}`, 'base64 (not url) signature', /signature/)
  await refused(t, verifier, `${h}.${p}x.${s}`, 'payload with a dangling character', /payload/)
  await refused(t, verifier, `${h}.${p}.${s}.${s}`, 'four parts', /compact JWS/)
  await refused(t, verifier, `${h}.${p}`, 'two parts', /compact JWS/)
  await refused(t, verifier, `${h}.${enc([1])}.${s}`, 'payload not an object', /payload/)
  await refused(t, verifier, `${enc('dpop')}.${p}.${s}`, 'header not an object', /header/)
  await refused(t, verifier, `${Buffer.from('{"typ":').toString('base64url')}.${p}.${s}`, 'header not JSON', /header/)
  await refused(t, verifier, proof(k, { claims: { pad: 'x'.repeat(9000) } }), 'oversize', /too long/)
  await refused(t, verifier, '', 'empty', /empty/)

  t.same(decodeBase64url('AQ'), Buffer.from([1]))
  t.equal(decodeBase64url('AR'), null, 'stray bits after one octet')
  t.same(decodeBase64url('AQE'), Buffer.from([1, 1]))
  t.equal(decodeBase64url('AQF'), null, 'stray bits after two octets')
  t.equal(decodeBase64url('A'), null, 'one character is never whole')
  t.equal(decodeBase64url('AQ=='), null, 'padding')
  t.equal(decodeBase64url('+/8'), null, 'the base64 alphabet')
})
