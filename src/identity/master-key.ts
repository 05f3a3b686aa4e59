import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writableDataDir, writeRefused } from '../core/data-dir.js'

/**
 * Private keys are encrypted at rest with a master key: POSTERN_MASTER_KEY when set (required for
 * several machines sharing PostgreSQL), else a 0600 `master.key` in the data dir, created on first
 * start. AES-256-GCM with the key id as associated data, so a ciphertext cannot be moved to
 * another key's row.
 */
export type MasterKey = Buffer & { readonly __brand: 'MasterKey' }

export function deriveMasterKey(secret: string | Buffer): MasterKey {
  const material = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
  if (material.length < 16) throw new Error('The master key must have at least 16 bytes of secret material.')
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'postern master key v1', 32)) as MasterKey
}

/**
 * The keys POSTERN_MASTER_KEY may stand for, in the order tried. First a passphrase (its UTF-8
 * bytes), as it always was read. Then, when the value is what a master.key file holds (base64,
 * as `cat` prints it), that file's key: `POSTERN_MASTER_KEY=$(cat master.key)` moves an
 * installation from the file to the variable (several machines on one PostgreSQL need the
 * variable). A value of both forms (`openssl rand -base64 32`) is both; which one a process uses
 * is the one that opens the store's signing keys (masterKeyOpening), so a passphrase that always
 * derived a key goes on deriving it.
 */
export function masterKeysOf(secret: string): MasterKey[] {
  const keys = [deriveMasterKey(secret)]
  const fileForm = keyFileContent(secret)
  if (fileForm) keys.push(fileForm)
  return keys
}

/** The key of a master.key file holding `text`, if it is such a file's content: canonical base64 of at least 16 bytes. */
function keyFileContent(text: string): MasterKey | undefined {
  const trimmed = text.trim()
  const bytes = Buffer.from(trimmed, 'base64')
  return bytes.length >= 16 && bytes.toString('base64') === trimmed ? deriveMasterKey(bytes) : undefined
}

/**
 * The first of `candidates` that opens every one of `sealed` (the store's unexpired signing keys,
 * sealed with their kid as associated data); the first when there is nothing to open, or when none
 * opens them all (the caller then refuses to start, saying why).
 */
export function masterKeyOpening(candidates: readonly MasterKey[], sealed: readonly { kid: string; privateKey: string }[]): MasterKey {
  if (candidates.length === 0) throw new Error('masterKeyOpening needs at least one candidate key.')
  return candidates.find((key) => sealed.every((r) => opens(key, r.privateKey, r.kid))) ?? candidates[0]!
}

/**
 * A key for one purpose, derived from the master key (HKDF-SHA256, the purpose as its info): the
 * same in every process that shares the master key, and telling nothing of it or of the others.
 */
export function masterSubkey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), purpose, 32))
}

/**
 * Reads the key file, creating it (0600, in a 0700 dir) if it does not exist; `created` names the
 * file when this call made it (a store that already holds keys then cannot be opened with it).
 * A key already there is only read: nothing is written to a data dir that has one.
 */
export function loadOrCreateMasterKeyFile(dataDir: string): { key: MasterKey; created?: string } {
  const file = join(dataDir, 'master.key')
  if (existsSync(file)) {
    tightened(file)
    return { key: keyIn(file) }
  }
  writableDataDir(dataDir, `Postern keeps its master key there (${file}, made on first start; or set POSTERN_MASTER_KEY).`)
  let created: string | undefined
  // Written whole under a name of its own, then linked in place: a process starting beside this
  // one finds either no key file or the whole key, never a file created and not yet written.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(draft, randomBytes(32).toString('base64') + '\n', { flag: 'wx', mode: 0o600 })
  try {
    linkSync(draft, file)
    created = file
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    rmSync(draft, { force: true })
  }
  tightened(file)
  return { key: keyIn(file), ...(created && { created }) }
}

/** A key file others may read is made the owner's alone, when this user may (its owner). */
function tightened(file: string): void {
  try {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  } catch (err) {
    if (!writeRefused(err)) throw err
  }
}

/** Reads the key file if there is one; creates nothing (for commands that only read a Postern's state). */
export function existingMasterKeyFile(dataDir: string): MasterKey | undefined {
  const file = join(dataDir, 'master.key')
  return existsSync(file) ? keyIn(file) : undefined
}

const keyIn = (file: string) => deriveMasterKey(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'))

export function seal(key: MasterKey, plaintext: string, associatedData: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(associatedData))
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
}

/** Whether `key` opens what seal() sealed with `associatedData` (the same master key sealed it). */
export function opens(key: MasterKey, sealed: string, associatedData: string): boolean {
  try {
    unseal(key, sealed, associatedData)
    return true
  } catch {
    return false
  }
}

export function unseal(key: MasterKey, sealed: string, associatedData: string): string {
  const [version, iv, body, tag] = sealed.split('.')
  if (version !== 'v1' || !iv || !body || !tag) throw new Error('Unknown sealed-key format.')
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(associatedData))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  try {
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    throw new Error('Cannot decrypt a signing key: the master key differs from the one that encrypted it (POSTERN_MASTER_KEY or master.key).')
  }
}
