import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { runCli } from '../support/cli.js'
import { freePort } from '../support/ports.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * Two `postern serve` on one embedded store started without a word: they shared the data but not
 * their issuers (a token from one got 401 at the other's gateway), and the second overwrote the
 * first's control-url. The second is refused, naming the first and what to run instead; the first
 * goes on as it was; a first killed outright (SIGKILL) leaves nothing that holds the next start.
 */
describe('one postern serve per data dir', () => {
  const started: PosternProcess[] = []
  afterAll(() => Promise.all(started.map((p) => p.stop())))

  const second = async (dataDir: string, extra: string[] = []) =>
    runCli(['serve', '--port', String(await freePort()), '--gateway-port', String(await freePort()), '--data-dir', dataDir, ...extra], { configDir: mkdtempSync(join(tmpdir(), 'postern-second-')), timeoutMs: 30_000 })

  it('a second start is refused, naming the first (pid, URLs) and --workers or PostgreSQL; the first is untouched, and after a SIGKILL the next start works', async () => {
    const p = await startPostern()
    started.push(p)
    const controlUrlFile = join(p.dataDir, 'control-url')
    const noted = readFileSync(controlUrlFile, 'utf8')

    for (const extra of [[], ['--workers', '2'], ['--planes', 'gateway']]) {
      const r = await second(p.dataDir, extra)
      expect(r.code, r.stdout).toBe(1)
      expect(r.stderr).toContain(`ERROR: Another postern serve (pid ${p.pid}, control plane ${p.controlUrl}, gateway http://127.0.0.1:${p.gatewayPort}) is running on --data-dir ${p.dataDir}; nothing was changed.`)
      expect(r.stderr).toContain('run one postern serve --workers N; for more machines, share a PostgreSQL (--database-url')
      expect(r.stdout).toBe('')
    }
    expect(readFileSync(controlUrlFile, 'utf8')).toBe(noted)
    expect(p.running()).toBe(true)
    expect((await fetch(`${p.controlUrl}/readyz`)).status).toBe(200)
    expect((await p.cli(['users', 'list'])).code).toBe(0)

    // The lock dies with its holder, however it ends: no stale lock to remove by hand.
    p.signal('SIGKILL')
    await eventually(5_000, async () => !p.running(), 'the first server gone')
    const next = await startPostern({ dataDir: p.dataDir, configDir: p.configDir, controlPort: p.controlPort, gatewayPort: p.gatewayPort })
    started.push(next)
    expect(readFileSync(controlUrlFile, 'utf8')).toBe(`${next.controlUrl}\n`)
    expect((await next.cli(['users', 'list'])).code).toBe(0)
  }, 120_000)

  it('--reset-owner-password beside a running server still works (it serves nothing)', async () => {
    const p = await startPostern()
    started.push(p)
    const reset = await runCli(['serve', '--reset-owner-password', '--data-dir', p.dataDir, '--port', String(p.controlPort)], { configDir: p.configDir })
    expect(reset.code, reset.stderr).toBe(0)
    expect(reset.stdout).toMatch(/New password for owner@example\.com/)
  }, 60_000)
})
