/**
 * Key-encryption key (KEK) and AES-256-GCM sealing of private keys at rest.
 *
 * The database only ever holds `v1.<kekId>.<iv>.<ciphertext>.<tag>`; the key id (kid) is bound as
 * additional authenticated data, so a sealed key cannot be swapped onto another row.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** AES-GCM's full tag: Node accepts shorter ones unless told, and a 4-byte tag is forgeable. */
const GCM_TAG_BYTES = 16

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

export interface KEKFileContext {
  /** How many stored signing keys hold a sealed private key (a new KEK could not open them). */
  sealedKeyCount(): Promise<number>
  log: { warn(obj: object, msg: string): void }
}

/**
 * The KEK from the environment, or from `keysDir/kek`.
 *
 * The file must be readable by its owner only: anyone who can read it can open every private
 * signing key in a database dump. It is generated (mode 0600) only when it is missing AND the
 * database holds no sealed key: otherwise a lost or mis-mounted file would silently become a new
 * KEK, and the existing keys could no longer be opened.
 */
export async function loadKEK (options: { keyEncryptionKey?: string, keysDir: string }, context: KEKFileContext): Promise<KEK> {
  if (options.keyEncryptionKey) return kekFromBase64url(options.keyEncryptionKey)
  const path = join(options.keysDir, 'kek')
  const existing = readKEKFile(path)
  if (existing) return existing

  const sealed = await context.sealedKeyCount()
  if (sealed > 0) {
    throw new Error(`the key-encryption key file ${path} does not exist, but the database holds ${sealed} sealed signing keys that only their KEK opens; ` +
      'restore that file (or set KEY_ENCRYPTION_KEY, or KEYS_DIR to where it is) instead of generating a new one')
  }
  mkdirSync(options.keysDir, { recursive: true, mode: 0o700 })
  try {
    const fd = openSync(path, 'wx', 0o600) // wx: two first starts never write two different KEKs
    try { writeSync(fd, generateKEKValue() + '\n') } finally { closeSync(fd) }
    context.log.warn({ path }, `generated a new key-encryption key in ${path}: back it up; without it the signing keys in the database cannot be opened`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const created = readKEKFile(path)
  if (!created) throw new Error(`the key-encryption key file ${path} vanished while starting`)
  return created
}

/** The KEK in `path`, or undefined when there is no such file; refuses a file others can read. */
function readKEKFile (path: string): KEK | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    // fstat on the open descriptor: the mode checked is the mode of the file that is read.
    const mode = fstatSync(fd).mode & 0o777
    if (mode & 0o077) {
      throw new Error(`the key-encryption key file ${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); ` +
        `restrict it to its owner: chmod 600 ${path}`)
    }
    return kekFromBase64url(readFileSync(fd, 'utf8'))
  } finally {
    closeSync(fd)
  }
}

export function seal (kek: KEK, plaintext: string, aad: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv, { authTagLength: GCM_TAG_BYTES })
  cipher.setAAD(Buffer.from(aad))
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', kek.id, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

export function open (kek: KEK, sealed: string, aad: string): string {
  const [version, kekId, iv, ciphertext, tag] = sealed.split('.')
  if (version !== 'v1' || !iv || !ciphertext || !tag) throw new Error('unrecognised sealed key format')
  if (kekId !== kek.id) throw new Error(`key was sealed under KEK ${kekId}, but the loaded KEK is ${kek.id}`)
  const authTag = Buffer.from(tag, 'base64url')
  if (authTag.length !== GCM_TAG_BYTES) throw new Error(`sealed key has a ${authTag.length}-byte GCM tag; ${GCM_TAG_BYTES} bytes are required`)
  const decipher = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(iv, 'base64url'), { authTagLength: GCM_TAG_BYTES })
  decipher.setAAD(Buffer.from(aad))
  decipher.setAuthTag(authTag)
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
}
