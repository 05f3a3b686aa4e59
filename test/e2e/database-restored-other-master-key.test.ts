import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { eventually } from '../support/eventually.js'
import { createTestDatabase, recreateDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * A backup of another installation, one made with another master key, restored in place of the
 * database under a running server. A start refuses such a database (its signing keys cannot be
 * opened); the running server must not serve from it either: it could verify tokens but mint
 * none. It keeps failing closed and says why, and serves again once the right backup is back.
 */
describe.skipIf(!inject('postgres'))('a backup of another installation restored under a running server', () => {
  const databases: { url: string; drop: () => Promise<void> }[] = []
  let server: PosternProcess
  let token: string
  beforeAll(async () => {
    databases.push(await createTestDatabase(), await createTestDatabase())
    server = await startPostern({ databaseUrl: databases[0]!.url, env: { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') } })
    token = (await closedServiceAndRobot(server, { invoker: true })).token
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    for (const db of databases) await db.drop()
  })

  const verdict = () => closedServiceVerdict(server.gatewayPort, token)
  const readiness = async () => {
    const res = await fetch(`${server.controlUrl}/readyz`)
    return { status: res.status, error: String(((await res.json()) as { error?: string }).error) }
  }

  it('keeps failing closed, saying why, until this installation\'s backup is back', async () => {
    const url = databases[0]!.url
    await eventually(3_000, async () => (await verdict()) === 'allowed')
    const dir = mkdtempSync(join(tmpdir(), 'postern-dump-'))
    execFileSync('pg_dump', ['-Fc', '-f', join(dir, 'ours.dump'), url])
    // The other installation: its own master key, its own signing keys.
    const other = await startPostern({ databaseUrl: databases[1]!.url, env: { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') } })
    await other.stop()
    execFileSync('pg_dump', ['-Fc', '-f', join(dir, 'theirs.dump'), databases[1]!.url])

    await recreateDatabase(url)
    execFileSync('pg_restore', ['--single-transaction', '-d', url, join(dir, 'theirs.dump')])
    await eventually(10_000, async () => /sealed with another master key than POSTERN_MASTER_KEY/.test(server.output()), 'the server saying why it does not reload', 100)
    // Well past the 3 s a reloaded view waits before it is trusted.
    await new Promise((r) => setTimeout(r, 4_500))
    const { status, error } = await readiness()
    expect({ status, error }).toEqual({ status: 503, error: expect.stringMatching(/signing key.*sealed with another master key.*backup of another installation/) })
    // /readyz answers whoever reaches the control plane: where the master key lives is for the log only.
    expect(error).not.toMatch(/POSTERN_MASTER_KEY|master\.key/)
    expect(await verdict()).toBe('503')
    expect(server.output().match(/not reloading from the database: its signing keys were sealed with another master key/g)).toHaveLength(1)

    await recreateDatabase(url)
    execFileSync('pg_restore', ['--single-transaction', '-d', url, join(dir, 'ours.dump')])
    await eventually(15_000, async () => (await verdict()) === 'allowed' && (await readiness()).status === 200, 'this installation served again', 100)
  }, 90_000)
})
