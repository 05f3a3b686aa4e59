import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { runCli } from '../support/cli.js'
import { freePort } from '../support/ports.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * A process whose master key cannot open the store's signing keys refuses to start, saying why,
 * and changes nothing: it could sign no token (every sign-in answered 500 after its refresh token
 * was used up, signing the person out everywhere), and a key it created would, once current,
 * leave every other process unable to sign.
 */
describe('a master key that cannot open the store’s signing keys', () => {
  const started: PosternProcess[] = []
  afterAll(() => Promise.all(started.map((p) => p.stop())))

  const serve = async (o: { dataDir: string; databaseUrl?: string; env?: Record<string, string> }) =>
    runCli(['serve', '--port', String(await freePort()), '--gateway-port', String(await freePort()), '--data-dir', o.dataDir, ...(o.databaseUrl ? ['--database-url', o.databaseUrl] : [])], { configDir: mkdtempSync(join(tmpdir(), 'postern-mismatch-')), env: o.env, timeoutMs: 30_000 })

  it('embedded store: a lost master.key is not made anew over the old keys; the restored one starts again', async () => {
    const p = await startPostern()
    started.push(p)
    await p.stop()
    const file = join(p.dataDir, 'master.key')
    const original = readFileSync(file)
    rmSync(file)

    const refused = await serve({ dataDir: p.dataDir })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`ERROR: 1 signing key in the store was sealed with another master key, and ${file} was missing (a new one was not kept): restore the master.key this data dir had, or set POSTERN_MASTER_KEY to what the store was made with: the other processes' POSTERN_MASTER_KEY, or the content of that master.key (POSTERN_MASTER_KEY=$(cat master.key)).`)
    expect(refused.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(existsSync(file)).toBe(false)

    writeFileSync(file, original, { mode: 0o600 })
    const again = await startPostern({ dataDir: p.dataDir, configDir: p.configDir, controlPort: p.controlPort, gatewayPort: p.gatewayPort })
    started.push(again)
    const token = await again.cli(['auth', 'print-identity-token'])
    expect(token.code, token.stderr).toBe(0)
  }, 120_000)

  it.skipIf(!inject('postgres'))('PostgreSQL: a process with another POSTERN_MASTER_KEY refuses to start, adds no key, and the others keep signing', async () => {
    const db = await createTestDatabase()
    try {
      const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
      const first = await startPostern({ databaseUrl: db.url, env })
      started.push(first)
      const kids = async () => ((await (await fetch(`${first.controlUrl}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()
      const before = await kids()

      const wrong = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
      const refused = await serve({ dataDir: join(first.dataDir, '..', 'other-data'), databaseUrl: db.url, env: wrong })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('sealed with another master key than POSTERN_MASTER_KEY: every process sharing this database needs the same POSTERN_MASTER_KEY (a passphrase, or the content of the master.key the store was made with). Nothing was changed.')

      expect(await kids()).toEqual(before)
      expect((await first.cli(['auth', 'print-identity-token'])).code).toBe(0)
    } finally {
      await db.drop()
    }
  }, 120_000)
})
