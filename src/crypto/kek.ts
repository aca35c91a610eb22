/**
 * Key-encryption key (KEK) and AES-256-GCM sealing of private keys at rest.
 *
 * The database only ever holds `v1.<kekId>.<iv>.<ciphertext>.<tag>`; the key id (kid) is bound as
 * additional authenticated data, so a sealed key cannot be swapped onto another row.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { mkdirSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'

export interface KEK {
  /** Short public fingerprint, stored beside each sealed key to tell which KEK sealed it. */
  id: string
  key: Buffer
}

export function kekFromBase64url (value: string): KEK {
  const key = Buffer.from(value.trim(), 'base64url')
  if (key.length !== 32) throw new TypeError('key-encryption key must be 32 bytes, base64url encoded')
  return { id: createHash('sha256').update('stamp-kek:').update(key).digest('hex').slice(0, 16), key }
}

export function generateKEKValue (): string {
  return randomBytes(32).toString('base64url')
}

/** The KEK from the environment, or from `keysDir/kek`, created (mode 0600) when missing. */
export function loadKEK (options: { keyEncryptionKey?: string, keysDir: string }): KEK {
  if (options.keyEncryptionKey) return kekFromBase64url(options.keyEncryptionKey)
  const path = join(options.keysDir, 'kek')
  mkdirSync(options.keysDir, { recursive: true, mode: 0o700 })
  try {
    const fd = openSync(path, 'wx', 0o600) // wx: two first starts never write two different KEKs
    writeSync(fd, generateKEKValue() + '\n')
    closeSync(fd)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return kekFromBase64url(readFileSync(path, 'utf8'))
}

export function seal (kek: KEK, plaintext: string, aad: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv)
  cipher.setAAD(Buffer.from(aad))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', kek.id, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

export function open (kek: KEK, sealed: string, aad: string): string {
  const [version, kekId, iv, ciphertext, tag] = sealed.split('.')
  if (version !== 'v1' || !iv || !ciphertext || !tag) throw new Error('unrecognised sealed key format')
  if (kekId !== kek.id) throw new Error(`key was sealed under KEK ${kekId}, but the loaded KEK is ${kek.id}`)
  const decipher = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
}
