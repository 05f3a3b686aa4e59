import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { eventually } from '../support/eventually.js'

/**
 * A backup restored under a running server without --single-transaction: pg_restore commits
 * each table on its own, so the server can notice the replacement, and reload, between the
 * installation id coming back and the services and policies coming back. Those rows keep the
 * backup's change numbers, so the change feed never announces them: before the fix the server
 * served the half-restored view (no services, no policies) until each item changed again. The
 * race is made certain here: the restore is run in steps, and the next step starts only once the
 * server has reloaded from what the previous one left.
 */
describe.skipIf(!inject('postgres'))('a backup restored table by table under a running server', () => {
  let db: { url: string; drop: () => Promise<void> }
  let server: PosternProcess
  let token: string
  const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
  const robot = 'serviceAccount:robot-0@my-project.iam.postern.internal'

  // A database and a server for each test: what one restore leaves is no other test's start.
  beforeEach(async () => {
    db = await createTestDatabase()
    server = await startPostern({ databaseUrl: db.url, env })
    token = (await closedServiceAndRobot(server)).token
  }, 60_000)
  afterEach(async () => {
    await server?.stop()
    await db?.drop()
  })

  const verdict = () => closedServiceVerdict(server.gatewayPort, token)
  const bind = (verb: 'add' | 'remove') => server.cli(['services', `${verb}-iam-policy-binding`, 'api', `--member=${robot}`, '--role=roles/run.invoker', '--quiet'])
  const reloads = () => server.output().split('reloaded policies, principals, services and signing keys').length - 1
  const restore = (...args: string[]) => execFileSync('pg_restore', ['--exit-on-error', '-d', db.url, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })

  /**
   * pg_restore's order adds every primary key after all the data, which the server waits for;
   * a restore by other means (a script, keys first) leaves only the rows themselves to tell, by
   * their counts and changing columns (ViewMark): both must end with the restored view.
   */
  it.each([
    { order: 'as pg_restore runs it: keys after all the data', keysFirst: false },
    { order: 'keys before the data', keysFirst: true },
  ])('restored $order: the server keeps failing closed until the restore is over, reloads what came after its reload, and enforces the restored policy', async ({ keysFirst }) => {
    // The backup grants the robot; after it, the grant is removed: the restore must bring it back.
    expect((await bind('add')).code).toBe(0)
    await eventually(3_000, async () => (await verdict()) === 'allowed')
    const dir = mkdtempSync(join(tmpdir(), 'postern-dump-'))
    const dump = join(dir, 'db.dump')
    execFileSync('pg_dump', ['-Fc', '-f', dump, db.url])
    // Not probed at the gateway: a denied request is counted in the audit log by a writer that
    // flushes every 500 ms, and a row it wrote into the emptied tables would collide with the
    // restored ones (as any write made during a restore would).
    expect((await bind('remove')).code).toBe(0)

    // Step 1, as pg_restore --clean begins: every table dropped and created anew, empty, each
    // statement committed on its own.
    const before = reloads()
    const logFrom = server.output().length
    restore('--clean', '--if-exists', '--section=pre-data', dump)
    if (keysFirst) restore('--section=post-data', dump)
    // Step 2: the installation id, the change feed and the schema version come back; services,
    // policies, principals and keys are still empty. The server notices and reloads from that.
    const first = ['installation', 'changes', 'schema_migrations']
    restore('--data-only', ...first.flatMap((t) => ['-t', t]), dump)
    await eventually(10_000, () => reloads() > before, 'the server reloading from the half-restored database', 50)
    // What a process that has just reloaded says of itself while the restore goes on. Its view
    // holds no service yet, and it cannot say the service does not exist: 503, not 404 (before
    // that fix, a host the view did not hold was refused before freshness was asked).
    const readyDuring = (await fetch(`${server.controlUrl}/readyz`)).status
    const gatewayDuring = await verdict()

    // Step 3: the rest of the data, table by table (one COPY, one commit, each), then the keys.
    const rest = execFileSync('pg_restore', ['-l', dump], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => !first.some((t) => line.includes(` TABLE DATA public ${t} `)))
      .join('\n')
    writeFileSync(join(dir, 'rest.list'), rest)
    restore('--section=data', '-L', join(dir, 'rest.list'), dump)
    const restoredAt = Date.now()
    if (!keysFirst) restore('--section=post-data', dump)

    // The restored grant is enforced: before the fix the server kept the view it reloaded in
    // step 2, with no service at all, and answered 404 for ever (until the service changed again).
    await eventually(15_000, async () => (await verdict()) === 'allowed', 'the restored policy enforced', 100)
    console.log(`database-restored-table-by-table (${keysFirst ? 'keys first' : 'keys last'}): restored grant enforced ${Date.now() - restoredAt} ms after the last table's data`)
    expect(reloads()).toBeGreaterThanOrEqual(before + 2)
    expect(server.output().slice(logFrom)).toMatch(keysFirst ? /not deciding from the reloaded view yet.*changed again after the reload/ : /not deciding from the reloaded view yet.*no primary key yet/)
    // Meanwhile the half-restored view was not trusted, and /readyz said so (before the fix: 200).
    expect(readyDuring).toBe(503)
    expect(gatewayDuring).toBe('503')
    expect((await fetch(`${server.controlUrl}/readyz`)).status).toBe(200)

    // And it follows the feed again afterwards.
    expect((await bind('add')).code).toBe(0)
    await eventually(3_000, async () => (await verdict()) === 'allowed', 'a change after the restore')
    expect((await bind('remove')).code).toBe(0)
    await eventually(3_000, async () => (await verdict()) === 'denied', 'a change after the restore')
  }, 90_000)
})
