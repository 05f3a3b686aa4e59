import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { createTestDatabase, recreateDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { eventually } from '../support/eventually.js'

/**
 * The database dropped and created anew under a running server, and not migrated: it answers,
 * but holds no Postern tables. That is as sure a sign as another installation id that what the
 * server knows is of a database no longer there, so it fails closed at once (not after
 * --max-staleness, as for a database it merely cannot reach), says why, and reloads once
 * Postern's tables and data are back. Its periodic work waits meanwhile: it writes nothing.
 */
describe.skipIf(!inject('postgres'))('the database replaced by an empty one under a running server', () => {
  let db: { url: string; drop: () => Promise<void> }
  let server: PosternProcess
  let token: string
  const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }

  beforeAll(async () => {
    db = await createTestDatabase()
    // --audit-retention 4s: the rest of the maintenance (key rotation, purges) runs every 2 s, not every minute.
    server = await startPostern({ databaseUrl: db.url, env, args: ['--audit-retention', '4s'] })
    token = (await closedServiceAndRobot(server, { invoker: true })).token
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await db?.drop()
  })

  /** The periodic tasks whose failures are logged once a streak (main.ts). */
  const PERIODIC = ['access grant sweep', 'key rotation', 'purge of expired sessions, codes and counters', 'audit-log purge']
  const verdict = () => closedServiceVerdict(server.gatewayPort, token)
  const ready = async () => (await fetch(`${server.controlUrl}/readyz`)).status

  it('fails closed at once, and recovers when the data is restored', async () => {
    await eventually(3_000, async () => (await verdict()) === 'allowed')
    const dump = join(mkdtempSync(join(tmpdir(), 'postern-dump-')), 'db.dump')
    execFileSync('pg_dump', ['-Fc', '-f', dump, db.url])

    await recreateDatabase(db.url)
    // Well within the default --max-staleness of 60 s: the empty database is no outage to wait out.
    const closedIn = await eventually(5_000, async () => (await verdict()) === '503', 'failing closed', 100)
    expect(await ready()).toBe(503)
    expect(server.output()).toMatch(/the database changed under this process.*no Postern schema/)
    // The access-grant sweep (every 5 s) and the maintenance (every 2 s here) do not run while the
    // view is not of the database there is: a restore may be filling it, and whatever they wrote
    // (a key, a change) would collide with the restored rows. (Before, they ran, and failed on a
    // database without the tables.) Between DROP DATABASE and CREATE DATABASE there is no database
    // at all, an outage, in which a run fails as in any outage (database-outage.test.ts): what
    // counts is from the moment the server said it noticed.
    const noticedAt = server.output().search(/the database changed under this process/)
    const failedBefore = PERIODIC.filter((task) => server.output().slice(0, noticedAt).includes(`${task} failed`))
    const failures = (task: string) => server.output().slice(noticedAt).split('\n').filter((line) => line.includes(`${task} failed`)).length
    await new Promise((r) => setTimeout(r, 11_000)) // two runs of the sweep, five of the maintenance
    for (const task of PERIODIC) expect(failures(task), task).toBe(0)

    // Restored in one transaction: the tables and the data appear together.
    execFileSync('pg_restore', ['--single-transaction', '-d', db.url, dump])
    // Within the 3 s the reloaded view waits for the database to stay unchanged (a restore may still be writing), and a little more.
    const reopenedIn = await eventually(10_000, async () => (await verdict()) === 'allowed' && (await ready()) === 200, 'recovery once the data is back', 100)
    expect(server.output()).toMatch(/reloaded policies, principals, services and signing keys/)
    // Once the restored view is trusted they run again (database-restore-writes-nothing.test.ts),
    // and have no failure to recover from but the outage's.
    await new Promise((r) => setTimeout(r, 5_500))
    for (const task of PERIODIC) expect(failures(task), task).toBe(0)
    const recovered = PERIODIC.filter((task) => server.output().includes(`${task} recovered`))
    expect(recovered.filter((task) => !failedBefore.includes(task))).toEqual([])
    console.log(`database-unmigrated: failed closed ${closedIn} ms after the database was emptied; served again ${reopenedIn} ms after the restore`)
  }, 60_000)
})
