import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { printedDecisionKey } from '../support/decision-key.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * An installation moves from its master.key file to POSTERN_MASTER_KEY (as several machines on one
 * PostgreSQL need) with the file's content: `POSTERN_MASTER_KEY=$(cat master.key)` is the same
 * key, not a passphrase that cannot open the store. A passphrase that always worked goes on
 * deriving the key it did, even one that looks like a key file's content.
 */
describe('POSTERN_MASTER_KEY from a master.key file', () => {
  const started: PosternProcess[] = []
  afterAll(() => Promise.all(started.map((p) => p.stop())))
  const kids = async (p: PosternProcess) => ((await (await fetch(`${p.controlUrl}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()

  it('$(cat master.key) in the variable opens the store the file made: same signing keys, same sign-ins, same nginx decision key', async () => {
    const p = await startPostern()
    started.push(p)
    const keysBefore = await kids(p)
    const decisionKey = await printedDecisionKey(p, ['--data-dir', p.dataDir])
    await p.stop()

    const file = join(p.dataDir, 'master.key')
    const env = { POSTERN_MASTER_KEY: readFileSync(file, 'utf8').trim() }
    // The file moved away: the variable alone holds the key now.
    renameSync(file, join(p.dataDir, '..', 'master.key.kept'))
    const moved = await startPostern({ dataDir: p.dataDir, configDir: p.configDir, controlPort: p.controlPort, gatewayPort: p.gatewayPort, env })
    started.push(moved)
    expect(await kids(moved)).toEqual(keysBefore)
    // The CLI's sign-in from before (its refresh token) still gets tokens signed with the store's key.
    const token = await moved.cli(['auth', 'print-identity-token'])
    expect(token.code, token.stderr).toBe(0)
    expect(await printedDecisionKey(moved, ['--data-dir', p.dataDir], env)).toBe(decisionKey)
    expect(existsSync(file)).toBe(false)
  }, 120_000)

  it('a passphrase of the same form as a key file (openssl rand -base64 32) is still read as the passphrase it always was', async () => {
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    const p = await startPostern({ env })
    started.push(p)
    const keysBefore = await kids(p)
    const decisionKey = await printedDecisionKey(p, ['--data-dir', p.dataDir], env)
    await p.restart()
    expect(await kids(p)).toEqual(keysBefore)
    expect((await p.cli(['auth', 'print-identity-token'])).code).toBe(0)
    expect(await printedDecisionKey(p, ['--data-dir', p.dataDir], env)).toBe(decisionKey)
    expect(existsSync(join(p.dataDir, 'master.key'))).toBe(false)
  }, 120_000)
})
