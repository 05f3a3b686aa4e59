import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { eventually } from '../support/eventually.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * A backup restored under a running server takes away the signing keys made after it (an operator
 * restores one after a key leaked, say). A token signed by such a key is refused from then on,
 * also by a gateway that had admitted it just before and kept its verdict on the token; a token
 * of a key the backup holds still passes. Keys rotate every 4 s here, so one made after the
 * backup signs within seconds.
 */
describe.skipIf(!inject('postgres'))('signing keys taken away by a restored backup', () => {
  let db: { url: string; drop: () => Promise<void> }
  let server: PosternProcess
  beforeAll(async () => {
    db = await createTestDatabase()
    server = await startPostern({ databaseUrl: db.url, args: ['--key-rotation', '4s'], env: { NODE_ENV: 'test', POSTERN_MASTER_KEY: randomBytes(32).toString('base64') } })
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await db?.drop()
  })

  it("refuses a token of a key the backup lacks, where the gateway had admitted it, and admits one of a key it holds", async () => {
    const { owner, email, token: before } = await closedServiceAndRobot(server, { invoker: true })
    const published = async () => ((await (await fetch(`${server.controlUrl}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)
    const dump = join(mkdtempSync(join(tmpdir(), 'postern-dump-')), 'db.dump')
    execFileSync('pg_dump', ['-Fc', '-f', dump, db.url])
    const backedUp = await published()
    expect(backedUp).toContain(decodeProtectedHeader(before).kid)

    // A token signed by a key made after the backup.
    const mint = async () => (await server.api<{ token: string }>('POST', `/v1/projects/-/serviceAccounts/${email}:generateIdToken`, { audience: 'postern-cli' }, owner)).body.token
    let after = ''
    await eventually(20_000, async () => !backedUp.includes(decodeProtectedHeader((after = await mint())).kid!), 'a key made after the backup signing', 250)
    expect(await closedServiceVerdict(server.gatewayPort, after)).toBe('allowed')

    execFileSync('pg_restore', ['--clean', '-d', db.url, dump], { stdio: ['ignore', 'ignore', 'pipe'] })
    await eventually(20_000, async () => (await closedServiceVerdict(server.gatewayPort, after)) === '401', 'the token of the key gone refused', 100)
    await eventually(10_000, async () => (await closedServiceVerdict(server.gatewayPort, before)) === 'allowed', 'the token of a key the backup holds admitted', 100)
  }, 90_000)
})
