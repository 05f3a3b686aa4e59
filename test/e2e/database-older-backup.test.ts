import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { eventually } from '../support/eventually.js'
import { TO_SCHEMA_VERSION_10 } from '../support/schema-version-10.js'
import { createTestDatabase, recreateDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { LATEST_SCHEMA } from '../../src/store/migrations.js'

/**
 * A backup made by an older Postern (schema version 10: before the installation id), restored in
 * place of the database under a running server, table by table as pg_restore does by default. A
 * start would migrate it; the running server must too, once the restore is over, and then serve
 * what the backup holds. Before, it waited for ever for an installation id nobody would write,
 * failing closed, until someone restarted it.
 */
describe.skipIf(!inject('postgres'))('an older backup restored under a running server', () => {
  const databases: { url: string; drop: () => Promise<void> }[] = []
  let server: PosternProcess
  let token: string
  beforeAll(async () => {
    databases.push(await createTestDatabase())
    server = await startPostern({ databaseUrl: databases[0]!.url, env: { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') } })
    token = (await closedServiceAndRobot(server, { invoker: true })).token
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    for (const db of databases) await db.drop()
  })

  const query = async (url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return (await client.query(sql)).rows
    } finally {
      await client.end()
    }
  }
  const verdict = () => closedServiceVerdict(server.gatewayPort, token)
  const ready = async () => (await fetch(`${server.controlUrl}/readyz`)).status

  it('is migrated by the running server once the restore is over, and served', async () => {
    const url = databases[0]!.url
    await eventually(3_000, async () => (await verdict()) === 'allowed')
    // The backup as Postern before schema version 11 made it: the same data, no installation table.
    const dir = mkdtempSync(join(tmpdir(), 'postern-dump-'))
    execFileSync('pg_dump', ['-Fc', '-f', join(dir, 'now.dump'), url])
    const scratch = await createTestDatabase()
    databases.push(scratch)
    execFileSync('pg_restore', ['-d', scratch.url, join(dir, 'now.dump')])
    await query(scratch.url, TO_SCHEMA_VERSION_10.join('; '))
    const older = join(dir, 'older.dump')
    execFileSync('pg_dump', ['-Fc', '-f', older, scratch.url])

    await recreateDatabase(url)
    execFileSync('pg_restore', ['--exit-on-error', '-d', url, older])
    // Served once migrated: until the server looks at the database again it serves from memory,
    // as through any outage, so a verdict alone can come before it has seen the backup at all.
    const migrated = /migrated the database, restored from an older Postern's backup, to this Postern's schema/
    const servedIn = await eventually(20_000, async () => migrated.test(server.output()) && (await verdict()) === 'allowed' && (await ready()) === 200, 'the restored backup migrated and served', 100)
    expect(server.output()).toMatch(/schema version 10, an older Postern's; migrating it once it has stayed so/)
    expect(await query(url, 'SELECT MAX(version) AS v FROM schema_migrations')).toEqual([{ v: LATEST_SCHEMA }])
    expect(await query(url, 'SELECT COUNT(*)::int AS n FROM installation')).toEqual([{ n: 1 }])
    console.log(`database-older-backup: served ${servedIn} ms after pg_restore returned`)
  }, 90_000)
})
