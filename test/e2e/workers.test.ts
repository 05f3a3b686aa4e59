import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { rawGet } from '../support/raw-http.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { createUser, signInUser } from '../support/sign-in.js'
import { startUpstream } from '../support/upstream.js'
import { eventually } from '../support/eventually.js'

/** serve --workers 2: every worker's caches follow a change within a second. */
describe('gateway workers on the embedded store', () => {
  let p: PosternProcess
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let token: string
  let metricsPort: number
  beforeAll(async () => {
    upstream = await startUpstream()
    metricsPort = await freePort()
    p = await startPostern({ args: ['--workers', '2', '--metrics-port', String(metricsPort)] })
    expect((await p.cli(['services', 'create', 'api', `--upstream=${upstream.url}`])).code).toBe(0)
    await createUser(p, 'ann@example.com', 'ann-password-123')
    token = (await signInUser(p, 'ann@example.com', 'ann-password-123')).idToken
  })
  afterAll(async () => {
    await p?.stop()
    await upstream?.close()
  })

  // Fresh connections land on either worker; 12 of them sample both.
  const statuses = async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => rawGet(p.gatewayPort, 'api.my-project.localhost', [`Authorization: Bearer ${token}`])))
    return new Set(results.map((r) => r.status))
  }
  const within = (ms: number, expected: number) =>
    eventually(ms, async () => {
      const seen = await statuses()
      return seen.size === 1 && seen.has(expected)
    }, `every worker answering ${expected}`, 0)

  it('runs two workers, and a grant and its removal reach both within 1 s', async () => {
    const pids = new Set<number>()
    for (let i = 0; i < 30 && pids.size < 2; i++) {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { connection: 'close' } })
      pids.add(Number(/process_pid (\d+)/.exec(await r.text())?.[1]))
    }
    expect(pids.size).toBe(2)
    expect(await statuses()).toEqual(new Set([403]))
    expect((await p.cli(['services', 'add-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker', '--quiet'])).code).toBe(0)
    await within(1_000, 200)
    expect((await p.cli(['services', 'remove-iam-policy-binding', 'api', '--member=user:ann@example.com', '--role=roles/run.invoker', '--quiet'])).code).toBe(0)
    await within(1_000, 403)
  })
})
