import { copyFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { request } from 'undici'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startUpstream } from '../support/upstream.js'

/**
 * The store gone from under a running server is said plainly, and no write is acknowledged into
 * the void: the embedded database file removed or replaced (every write answered 200, then lost at
 * the next start), or PostgreSQL's tables dropped (a bare 500 "Internal error."). 503 with what
 * happened and what to do, and /readyz not ready.
 */
describe('the store removed or replaced under a running server', () => {
  const started: PosternProcess[] = []
  afterAll(() => Promise.all(started.map((p) => p.stop())))
  const readyz = async (p: PosternProcess) => {
    const res = await fetch(`${p.controlUrl}/readyz`)
    return { status: res.status, body: (await res.json()) as { database: string } }
  }

  it('embedded: a removed database file refuses writes, readiness and the gateway; so does one put back as another file', async () => {
    const p = await startPostern()
    started.push(p)
    const upstream = await startUpstream()
    expect((await p.cli(['services', 'create', 'svc', `--upstream=${upstream.url}`])).code).toBe(0)
    const idToken = await p.ownerIdToken()
    const invoke = async () => {
      const r = await request(`http://127.0.0.1:${p.gatewayPort}/`, { headers: { host: `svc.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${idToken}` } })
      await r.body.dump()
      return r.statusCode
    }
    expect(await invoke()).toBe(200)
    expect((await p.cli(['users', 'list'])).code).toBe(0) // the CLI's access token, cached: the call below goes to the API
    const file = join(p.dataDir, 'postern.db')
    const saved = join(p.dataDir, 'saved.db')
    copyFileSync(file, saved)
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })

    const write = await p.cli(['users', 'create', 'lost@example.com'])
    expect(write.code).toBe(1)
    expect(write.stderr).toContain(`(UNAVAILABLE) The database file ${file} was removed while Postern ran; nothing was written. Restart postern serve (with the file restored, or to start anew).`)
    const ready = await readyz(p)
    expect(ready).toMatchObject({ status: 503, body: { database: expect.stringContaining('was removed while Postern ran') } })
    // Said as the state it is: no request was refused here, so nothing about what was (not) written.
    expect(JSON.stringify(ready.body)).not.toContain('nothing was')
    // The token endpoint says so too, as OAuth words it: 503 temporarily_unavailable, not 500 server_error.
    const token = await fetch(`${p.controlUrl}/oauth2/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }) })
    expect(token.status).toBe(503)
    expect(await token.json()).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.stringContaining('was removed while Postern ran') })

    // A copy put where it was is another file to the process that opened the first.
    renameSync(saved, file)
    expect((await p.cli(['users', 'create', 'lost@example.com'])).stderr).toContain(`The database file ${file} was replaced while Postern ran; nothing was written.`)
    // The gateway no longer decides from a view of a file no one will open again (a restore put
    // there may have taken access away): it fails closed, as on PostgreSQL. /healthz (alive) is not readiness.
    await eventually(5_000, async () => (await invoke()) === 503, 'the gateway failing closed')
    expect((await fetch(`${p.controlUrl}/healthz`)).status).toBe(200)
    await upstream.close()
  }, 60_000)

  it.skipIf(!inject('postgres'))('PostgreSQL: tables dropped under the server answer 503 saying so, not a bare internal error', async () => {
    const db = await createTestDatabase()
    try {
      const p = await startPostern({ databaseUrl: db.url })
      started.push(p)
      const owner = await p.ownerToken()
      const admin = new pg.Client({ connectionString: db.url })
      await admin.connect()
      await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public')
      await admin.end()
      const write = await p.api<{ error: { status: string; message: string } }>('POST', '/v1/users', { email: 'lost@example.com' }, owner)
      expect(write.status).toBe(503)
      expect(write.body.error).toMatchObject({ status: 'UNAVAILABLE', message: expect.stringContaining('The database no longer holds Postern’s tables') })
    } finally {
      await Promise.all(started.splice(0).map((p) => p.stop()))
      await db.drop()
    }
  }, 60_000)
})
