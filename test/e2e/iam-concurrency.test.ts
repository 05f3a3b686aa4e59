import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

// Concurrent CLI processes: each a whole Node start, and every write but one retried on the etag,
// so the time grows faster than the count (200 took 127 s of a slow host's CI, 2026-12-07).
const WRITERS = 120

/** Etags keep concurrent policy edits from losing a change (DESIGN §1, §6). */
describe('concurrent policy edits', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
    const r = await p.cli(['services', 'create', 'busy', '--upstream', 'http://127.0.0.1:9000'])
    expect(r.code, r.stderr).toBe(0)
    // Grants name accounts that exist; groups are the cheapest to make by the hundred.
    const token = await p.ownerToken()
    const emails = [...Array.from({ length: WRITERS }, (_, i) => `dev${i}@example.com`), ...Array.from({ length: 50 }, (_, i) => `winner${i}@example.com`), 'temp@example.com']
    for (let i = 0; i < emails.length; i += 25) {
      const created = await Promise.all(emails.slice(i, i + 25).map((email) => p.api('POST', '/v1/groups', { email }, token)))
      expect(created.map((c) => c.status)).toEqual(created.map(() => 200))
    }
  })
  afterAll(() => p?.stop())

  it(`${WRITERS} concurrent add-iam-policy-binding processes leave all ${WRITERS} members in the policy`, async () => {
    const members = Array.from({ length: WRITERS }, (_, i) => `group:dev${i}@example.com`)
    const results = await Promise.all(members.map((m) => p.cli(['services', 'add-iam-policy-binding', 'busy', `--member=${m}`, '--role=roles/run.invoker', '--quiet'], { timeoutMs: 280_000 })))
    const failed = results.filter((r) => r.code !== 0)
    expect(failed.map((r) => `${r.code}: ${r.stderr}`)).toEqual([])
    const { body } = await p.api<{ bindings: { role: string; members: string[] }[] }>('POST', '/v2/projects/my-project/services/busy:getIamPolicy', {})
    expect(body.bindings).toHaveLength(1)
    expect(new Set(body.bindings[0]!.members)).toEqual(new Set(members))
  }, 300_000)

  it('set-iam-policy with a stale etag exits 1 with ABORTED and changes nothing', async () => {
    const before = await p.api<{ etag: string; bindings: unknown[] }>('POST', '/v2/projects/my-project/services/busy:getIamPolicy', {})
    const file = join(p.dataDir, '..', 'stale.json')
    writeFileSync(file, JSON.stringify({ bindings: [{ role: 'roles/run.admin', members: ['user:mallory@example.com'] }], etag: 'BwStaleStaleStale' }))
    const r = await p.cli(['services', 'set-iam-policy', 'busy', file])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('ABORTED')
    expect(r.stderr).toContain('There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.')
    const after = await p.api<{ etag: string; bindings: unknown[] }>('POST', '/v2/projects/my-project/services/busy:getIamPolicy', {})
    expect(after.body).toEqual(before.body)
  })

  it('of 50 concurrent setIamPolicy calls holding the same etag, exactly one succeeds', async () => {
    const token = await p.ownerToken()
    const { body: current } = await p.api<{ etag: string }>('POST', '/v2/projects/my-project/services/busy:getIamPolicy', {}, token)
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        p.api('POST', '/v2/projects/my-project/services/busy:setIamPolicy', { policy: { bindings: [{ role: 'roles/run.invoker', members: [`group:winner${i}@example.com`] }], etag: current.etag } }, token),
      ),
    )
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.filter((s) => s === 409)).toHaveLength(49)
    for (const r of responses.filter((x) => x.status === 409)) expect(r.body).toMatchObject({ error: { code: 409, status: 'ABORTED' } })
    const winner = responses.findIndex((r) => r.status === 200)
    const { body: final } = await p.api<{ bindings: { members: string[] }[] }>('POST', '/v2/projects/my-project/services/busy:getIamPolicy', {}, token)
    expect(final.bindings[0]!.members).toEqual([`group:winner${winner}@example.com`])
  })

  it('a write that changes nothing keeps the etag; a policy with conditions cannot be overwritten blindly', async () => {
    const token = await p.ownerToken()
    const get = () => p.api<{ etag: string; bindings: unknown[] }>('POST', '/v2/projects/my-project/services/busy:getIamPolicy', {}, token)
    const { body: current } = await get()
    const same = await p.api<{ etag: string }>('POST', '/v2/projects/my-project/services/busy:setIamPolicy', { policy: { bindings: current.bindings, etag: current.etag } }, token)
    expect(same.body.etag).toBe(current.etag)
    const conditional = {
      bindings: [{ role: 'roles/run.invoker', members: ['group:temp@example.com'], condition: { title: 'until December', expression: "request.time < timestamp('2026-12-01T00:00:00Z')" } }],
      etag: current.etag,
    }
    const set = await p.api<{ etag: string; version: number }>('POST', '/v2/projects/my-project/services/busy:setIamPolicy', { policy: conditional }, token)
    expect(set.status).toBe(200)
    expect(set.body.version).toBe(3)
    expect(set.body.etag).not.toBe(current.etag)
    const blind = await p.api('POST', '/v2/projects/my-project/services/busy:setIamPolicy', { policy: { bindings: [] } }, token)
    expect(blind.status).toBe(400)
    expect(JSON.stringify(blind.body)).toContain('conditional bindings')
    expect((await get()).body.bindings).toHaveLength(1)
  })
})
