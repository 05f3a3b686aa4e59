import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { eventually } from '../support/eventually.js'

/**
 * Two `postern serve` processes on one PostgreSQL: approvals of one access request sent to both at
 * once — exactly one wins and the grant is written once; and when the grant ends, both processes'
 * sweeps run, and it is removed and recorded exactly once.
 */
describe.skipIf(!inject('postgres'))('access requests on PostgreSQL, two processes', () => {
  const SERVICE = 'projects/my-project/services/api'
  const GATEWAY_URL = 'http://run.localhost:8080'
  let a: PosternProcess
  let b: PosternProcess
  let drop: () => Promise<void>
  let clockFile: string
  let ownerToken: string
  let approverToken: string
  let devToken: string

  beforeAll(async () => {
    const db = await createTestDatabase()
    drop = db.drop
    clockFile = join(mkdtempSync(join(tmpdir(), 'postern-clock-')), 'skew')
    writeFileSync(clockFile, '0')
    const port = await freePort()
    const issuer = `http://127.0.0.1:${port}`
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64'), NODE_ENV: 'test', POSTERN_TEST_ONLY_CLOCK_FILE: clockFile }
    // As README "Many machines" says: one issuer and one gateway URL (the load balancer's) for every process.
    const args = ['--issuer', issuer, '--gateway-url', GATEWAY_URL]
    a = await startPostern({ databaseUrl: db.url, env, controlPort: port, args })
    b = await startPostern({ databaseUrl: db.url, env, args })
    expect((await a.cli(['services', 'create', 'api', '--upstream', 'http://127.0.0.1:9'])).code).toBe(0)
    for (const email of ['approver@example.com', 'dev@example.com']) await createUser(a, email)
    expect((await a.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:approver@example.com', '--role=roles/run.admin'])).code).toBe(0)
    ownerToken = await a.ownerToken()
    approverToken = (await signInUser(a, 'approver@example.com', 'correct horse battery staple')).accessToken
    devToken = (await signInUser(a, 'dev@example.com', 'correct horse battery staple')).accessToken
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a, b].map((p) => p?.stop()))
    await drop?.()
  })

  it('with one --gateway-url, both processes give a service the same URL (the audience of its tokens)', async () => {
    const uris = await Promise.all([a, b].map(async (p) => (await p.api<{ uri: string }>('GET', '/v2/projects/my-project/services/api', undefined, ownerToken)).body.uri))
    expect(uris).toEqual(['http://api.my-project.run.localhost:8080', 'http://api.my-project.run.localhost:8080'])
  })

  it('concurrent approvals through both processes: exactly one wins; the ended grant is swept once', async () => {
    const filed = await b.api<{ id: string }>('POST', '/v1/accessRequests', { resource: SERVICE, duration: '600s', reason: 'race across processes' }, devToken)
    expect(filed.status).toBe(200)
    const id = filed.body.id

    const attempts = Array.from({ length: 10 }, (_, i) => {
      const [server, token] = i % 2 ? [b, approverToken] : [a, ownerToken]
      return server.api<{ error?: { status: string; message: string } }>('POST', `/v1/accessRequests/${id}:approve`, {}, token)
    })
    const results = await Promise.all(attempts)
    expect(results.filter((r) => r.status === 200)).toHaveLength(1)
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(400)
      expect(r.body.error).toMatchObject({ status: 'FAILED_PRECONDITION' })
      expect(r.body.error!.message).toContain('was already approved by')
    }
    const grants = async () => {
      const policy = (await a.api<{ bindings?: { condition?: { title: string } }[] }>('POST', `/v2/${SERVICE}:getIamPolicy`, {}, ownerToken)).body
      return (policy.bindings ?? []).filter((x) => x.condition?.title === `Access request ${id}`).length
    }
    expect(await grants()).toBe(1)
    const entries = async (method: string) =>
      ((await a.api<{ entries?: { method: string; outcome: string; details: { request?: string } }[] }>('GET', `/v1/auditLogs?resource=${encodeURIComponent(SERVICE)}&pageSize=500`, undefined, ownerToken)).body.entries ?? [])
        .filter((e) => e.method === method && e.outcome === 'OK' && e.details.request === id)
    expect(await entries('accessRequests.approve')).toHaveLength(1)

    // Both processes run on the moved clock, and both sweep every 5 s.
    writeFileSync(clockFile, String(11 * 60))
    await eventually(20_000, async () => (await grants()) === 0, 'the ended grant removed', 200)
    // Give both sweeps more turns: a second removal would show as a second entry.
    await new Promise((r) => setTimeout(r, 11_000))
    expect(await entries('accessRequests.expire')).toHaveLength(1)
    const state = await b.api<{ state: string }>('GET', `/v1/accessRequests/${id}`, undefined, devToken)
    expect(state.body.state).toBe('EXPIRED')
  }, 120_000)
})
