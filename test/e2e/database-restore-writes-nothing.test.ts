import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * A running server writes nothing of its own while a restore fills its database: a signing key,
 * a purge or an audit row written into the emptied tables takes a number (the change feed's, the
 * audit log's) that the restored rows then collide with, and pg_restore --exit-on-error stops
 * there, leaving the backup half restored. Key rotation is due here every second (--key-rotation
 * 4s: the maintenance runs every second, and the emptied table has no key at all).
 *
 * Run twice: with the change feed polled as usual (every 250 ms), and polled every 10 s, where
 * only the check the maintenance makes before each run can notice the emptied tables in time.
 */
describe.skipIf(!inject('postgres')).each([
  ['the change feed polled as usual', {}],
  ['the change feed polled every 10 s', { POSTERN_CHANGE_POLL_MS: '10000' }],
])('a restore under a running server, %s', (_, pollEnv) => {
  let db: { url: string; drop: () => Promise<void> }
  let server: PosternProcess
  beforeAll(async () => {
    db = await createTestDatabase()
    server = await startPostern({ databaseUrl: db.url, args: ['--key-rotation', '4s'], env: { NODE_ENV: 'test', POSTERN_MASTER_KEY: randomBytes(32).toString('base64'), ...pollEnv } })
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await db?.drop()
  })

  const count = async (table: string) => {
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      return Number((await client.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n)
    } finally {
      await client.end()
    }
  }
  const restore = (...args: string[]) => execFileSync('pg_restore', ['--exit-on-error', '-d', db.url, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  const ready = async () => (await fetch(`${server.controlUrl}/readyz`)).status

  it('is not written to while its tables are empty, so the restore completes; rotation resumes after it', async () => {
    const dump = join(mkdtempSync(join(tmpdir(), 'postern-dump-')), 'db.dump')
    execFileSync('pg_dump', ['-Fc', '-f', dump, db.url])
    const keysInBackup = await count('signing_keys')

    // As pg_restore --clean begins: every table dropped and created anew, empty.
    restore('--clean', '--if-exists', '--section=pre-data', dump)
    await eventually(10_000, async () => (await ready()) === 503, 'the server noticing the emptied database', 50)
    // Three maintenance runs, each finding rotation due on a table with no key.
    await new Promise((r) => setTimeout(r, 3_000))
    expect({ keys: await count('signing_keys'), changes: await count('changes'), audit: await count('audit_log') }).toEqual({ keys: 0, changes: 0, audit: 0 })

    // The rest of the restore: it would stop on a duplicate key had the server written a row.
    restore('--section=data', dump)
    restore('--section=post-data', dump)
    // Up to two polls: one reloads, the next finds the database has stayed as it was (REWRITE_SETTLE_MS).
    await eventually(30_000, async () => (await ready()) === 200, 'the restored database trusted', 100)
    await eventually(15_000, async () => (await count('signing_keys')) > keysInBackup, 'key rotation running again', 250)
  }, 90_000)
})
