import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { deriveMasterKey, loadOrCreateMasterKeyFile, masterKeyOpening, masterKeysOf, seal, type MasterKey } from './master-key.js'

describe('loadOrCreateMasterKeyFile', () => {
  it('creates master.key (0600) once, leaving nothing else, and later starts read the same key', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'postern-master-key-')), 'data')
    const first = loadOrCreateMasterKeyFile(dir)
    expect(first.created).toBe(join(dir, 'master.key'))
    expect(readdirSync(dir)).toEqual(['master.key'])
    expect(statSync(join(dir, 'master.key')).mode & 0o777).toBe(0o600)
    const again = loadOrCreateMasterKeyFile(dir)
    expect(again.created).toBeUndefined()
    expect(again.key.equals(first.key)).toBe(true)
    expect(readdirSync(dir)).toEqual(['master.key'])
  })
})

describe('POSTERN_MASTER_KEY: a passphrase, or a master.key file’s content', () => {
  const fileKey = () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'postern-master-key-')), 'data')
    return { key: loadOrCreateMasterKeyFile(dir).key, content: readFileSync(join(dir, 'master.key'), 'utf8') }
  }
  const sealedWith = (key: MasterKey) => [{ kid: 'k1', privateKey: seal(key, 'private key', 'k1') }]

  it('a passphrase is read as one, and only so', () => {
    const keys = masterKeysOf('correct horse battery staple')
    expect(keys).toHaveLength(1)
    expect(keys[0]!.equals(deriveMasterKey('correct horse battery staple'))).toBe(true)
  })

  it('a master.key’s content (as $(cat master.key) gives it, or with its newline) also stands for that file’s key, after the passphrase reading', () => {
    const file = fileKey()
    for (const value of [file.content.trim(), file.content]) {
      const keys = masterKeysOf(value)
      expect(keys).toHaveLength(2)
      expect(keys[0]!.equals(deriveMasterKey(value))).toBe(true)
      expect(keys[1]!.equals(file.key)).toBe(true)
    }
  })

  it('the key used is the one that opens the store’s signing keys: a passphrase of that form that always sealed them goes on', () => {
    const value = fileKey().content.trim()
    const [asPassphrase, asFile] = masterKeysOf(value) as [MasterKey, MasterKey]
    expect(masterKeyOpening([asPassphrase, asFile], sealedWith(asPassphrase))).toBe(asPassphrase)
    expect(masterKeyOpening([asPassphrase, asFile], sealedWith(asFile))).toBe(asFile)
    // Nothing to tell by (a new store): the passphrase reading, as before.
    expect(masterKeyOpening([asPassphrase, asFile], [])).toBe(asPassphrase)
    // Neither opens them: the first, which the start then refuses, saying why.
    expect(masterKeyOpening([asPassphrase, asFile], sealedWith(deriveMasterKey('another installation’s key')))).toBe(asPassphrase)
  })
})
