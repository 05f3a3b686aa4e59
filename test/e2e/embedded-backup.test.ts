import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * The README's "Backing up the embedded store", as typed: SQLite's online backup of a running
 * Postern, with master.key beside it, restored into an empty data dir.
 */
describe('backing up and restoring the embedded store', () => {
  const started: PosternProcess[] = []
  afterAll(async () => {
    for (const p of started) await p.stop()
  })

  it('a backup taken while Postern runs holds its last writes, and starts as the same installation', async () => {
    const p = await startPostern()
    started.push(p)
    expect((await p.cli(['services', 'create', 'kept', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    expect((await p.cli(['services', 'add-iam-policy-binding', 'kept', '--member=allUsers', '--role=roles/run.invoker', '--format=none'])).code).toBe(0)
    const backups = mkdtempSync(join(tmpdir(), 'postern-backup-'))
    // $ sqlite3 ~/.local/share/postern/postern.db ".backup /backups/postern.db"
    execFileSync('sqlite3', [join(p.dataDir, 'postern.db'), `.backup ${join(backups, 'postern.db')}`])
    copyFileSync(join(p.dataDir, 'master.key'), join(backups, 'master.key'))
    // Written after the backup: not in it.
    expect((await p.cli(['services', 'create', 'later', '--upstream=http://127.0.0.1:9000'])).code).toBe(0)
    const ownerToken = await p.ownerToken()
    await p.stop()
    started.pop()

    const restored = join(mkdtempSync(join(tmpdir(), 'postern-restored-')), 'data')
    mkdirSync(restored, { mode: 0o700 })
    for (const file of ['postern.db', 'master.key']) copyFileSync(join(backups, file), join(restored, file))
    const q = await startPostern({ dataDir: restored, configDir: p.configDir, controlPort: p.controlPort, gatewayPort: p.gatewayPort })
    started.push(q)
    expect(await q.cli(['services', 'list', '--format=value(metadata.name)'])).toMatchObject({ code: 0, stdout: 'kept\n' })
    const policy = await q.api<{ bindings?: { members: string[] }[] }>('POST', '/v2/projects/my-project/services/kept:getIamPolicy', {})
    expect(policy.body.bindings?.flatMap((b) => b.members)).toEqual(['allUsers'])
    // Its signing keys came back with the master key: a token signed before the backup still verifies.
    expect((await q.api('GET', '/v1/projects', undefined, ownerToken)).status).toBe(200)
  })
})
