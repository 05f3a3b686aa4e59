import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Pool, request } from 'undici'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'

interface Entry { method: string; outcome: string; resource: string; count: number; time: string }

/**
 * Anyone signed in can be denied at will: denials must not grow the audit log without bound. They
 * are aggregated per principal, service and minute with a count, and the log is purged after
 * `--audit-retention`.
 */
describe.each(DATA_PLANES)('denied invocations in the audit log (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let short: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>

  beforeAll(async () => {
    upstream = await startUpstream()
    ;[p, short] = await Promise.all([startPostern({ dataPlane }), startPostern({ dataPlane, args: ['--audit-retention', '2s'] })])
    for (const q of [p, short]) {
      expect((await q.cli(['services', 'create', 'locked', `--upstream=${upstream.url}`])).code).toBe(0)
      await createUser(q, 'bob@example.com', 'bob-password-123')
    }
  })
  afterAll(async () => {
    await Promise.all([p?.stop(), short?.stop(), upstream?.close()])
  })

  const denials = async (q: PosternProcess) =>
    ((await q.api<{ entries?: Entry[] }>('GET', `/v1/auditLogs?principal=${encodeURIComponent('user:bob@example.com')}&pageSize=1000`)).body.entries ?? []).filter((e) => e.method === 'routes.invoke')

  it('10,000 denied requests leave a bounded number of entries that count them all', async () => {
    const token = (await signInUser(p, 'bob@example.com', 'bob-password-123')).idToken
    const pool = new Pool(`http://127.0.0.1:${p.gatewayPort}`, { connections: 16 })
    const statuses = new Map<number, number>()
    const send = async () => {
      const res = await pool.request({ path: '/anything', method: 'GET', headers: { host: `locked.my-project.localhost:${p.gatewayPort}`, authorization: `Bearer ${token}` } })
      await res.body.dump()
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
    }
    let next = 0
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next++ < 10_000) await send()
    }))
    await pool.close()
    expect(Object.fromEntries(statuses)).toEqual({ 403: 10_000 })

    await expect.poll(async () => (await denials(p)).reduce((sum, e) => sum + e.count, 0), { timeout: 5_000, interval: 250 }).toBe(10_000)
    const entries = await denials(p)
    // One entry per minute the flood spanned (it takes seconds, so one or two).
    expect(entries.length).toBeLessThanOrEqual(2)
    expect(entries[0]).toMatchObject({ resource: 'projects/my-project/services/locked', outcome: 'PERMISSION_DENIED' })
  }, 120_000)

  it('entries older than --audit-retention are purged', async () => {
    const token = (await signInUser(short, 'bob@example.com', 'bob-password-123')).idToken
    const denied = await request(`http://127.0.0.1:${short.gatewayPort}/`, { headers: { host: `locked.my-project.localhost:${short.gatewayPort}`, authorization: `Bearer ${token}` } })
    await denied.body.dump()
    expect(denied.statusCode).toBe(403)
    await expect.poll(async () => (await denials(short)).length, { timeout: 2_000, interval: 100 }).toBe(1)
    // Retention 2 s, purged by the maintenance loop (every second at that retention).
    await expect.poll(async () => (await denials(short)).length, { timeout: 6_000, interval: 250 }).toBe(0)
  })
})
