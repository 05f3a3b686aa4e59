import { mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadOrCreateMasterKeyFile } from './master-key.js'

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
