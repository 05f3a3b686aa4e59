import { describe, expect, it } from 'vitest'
import type { AccessRequestRecord } from '../../../src/store/queries/access-requests.js'
import { unique } from '../fixtures.js'
import type { ContractContext } from './context.js'

const aRequest = (o: Partial<AccessRequestRecord> = {}): AccessRequestRecord => ({
  id: unique('r').slice(0, 10),
  resource: `projects/my-project/services/${unique('svc-')}`,
  resourceUid: unique('uid-'),
  requester: `user:${unique('dev-')}@example.com`,
  requesterUid: unique('uid-'),
  role: 'roles/run.invoker',
  reason: 'debugging "incident" ünï',
  requestedSeconds: 7200,
  state: 'PENDING',
  createTime: 1_700_000_000_123,
  decider: null,
  decideTime: null,
  decisionNote: '',
  grantedSeconds: null,
  expireTime: null,
  endTime: null,
  ...o,
})

export function accessContract(c: ContractContext): void {
  describe('access requests', () => {
    it('round-trips every field; an id is used once', async () => {
      const store = c.store()
      const r = aRequest()
      expect(await store.insertAccessRequest(r)).toBe(true)
      expect(await store.insertAccessRequest({ ...r, reason: 'other' })).toBe(false)
      expect(await store.getAccessRequest(r.id)).toEqual(r)
      const decided = { ...r, state: 'APPROVED' as const, decider: 'user:a@example.com', decideTime: r.createTime + 5, grantedSeconds: 600, expireTime: r.createTime + 600_005, decisionNote: 'n' }
      expect(await store.updateAccessRequest(decided, 'PENDING')).toBe(true)
      expect(await store.getAccessRequest(r.id)).toEqual(decided)
    })

    it('updates compare-and-set on the state: of two deciders holding PENDING, one wins', async () => {
      const store = c.store()
      const r = aRequest()
      await store.insertAccessRequest(r)
      const approve = { ...r, state: 'APPROVED' as const, decider: 'user:a@example.com', decideTime: 1 }
      const deny = { ...r, state: 'DENIED' as const, decider: 'user:b@example.com', decideTime: 2 }
      const results = await Promise.all([store.updateAccessRequest(approve, 'PENDING'), store.updateAccessRequest(deny, 'PENDING')])
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await store.getAccessRequest(r.id))!.state).toBe(results[0] ? 'APPROVED' : 'DENIED')
    })

    it('lists newest first, filtered by state, requester and resource; ended grants oldest first', async () => {
      const store = c.store()
      const requester = `user:${unique('lister-')}@example.com`
      const resource = `projects/my-project/services/${unique('listed-')}`
      const rows = [
        aRequest({ requester, resource, createTime: 10 }),
        aRequest({ requester, resource, createTime: 30, state: 'APPROVED', expireTime: 500 }),
        aRequest({ requester, createTime: 20, state: 'APPROVED', expireTime: 400 }),
        aRequest({ resource, createTime: 40, state: 'APPROVED', expireTime: 9_000 }),
      ]
      for (const r of rows) await store.insertAccessRequest(r)
      expect((await store.listAccessRequests({ requester, limit: 10 })).map((r) => r.createTime)).toEqual([30, 20, 10])
      expect((await store.listAccessRequests({ requester, state: 'PENDING', limit: 10 })).map((r) => r.createTime)).toEqual([10])
      expect((await store.listAccessRequests({ resource, limit: 10 })).map((r) => r.createTime)).toEqual([40, 30, 10])
      expect((await store.listAccessRequests({ requester, limit: 1 })).map((r) => r.createTime)).toEqual([30])
      // A page starts past the last one's item, ties on the time broken by the id.
      expect((await store.listAccessRequests({ requester, before: { createTime: 30, id: rows[1]!.id }, limit: 10 })).map((r) => r.createTime)).toEqual([20, 10])
      const twins = [1, 2, 3].map(() => aRequest({ resource, createTime: 50 }))
      for (const r of twins) await store.insertAccessRequest(r)
      const [newest, middle, oldest] = [...twins].sort((a, b) => (a.id < b.id ? 1 : -1))
      expect((await store.listAccessRequests({ resource, before: { createTime: 50, id: newest!.id }, limit: 10 })).map((r) => r.id)).toEqual([middle!.id, oldest!.id, rows[3]!.id, rows[1]!.id, rows[0]!.id])
      const ended = (await store.listEndedGrants(500, 1000)).map((r) => r.id)
      expect(ended.indexOf(rows[2]!.id)).toBeLessThan(ended.indexOf(rows[1]!.id))
      expect(ended).not.toContain(rows[3]!.id)
      expect(ended).not.toContain(rows[0]!.id)
    })
  })

  describe('access tests and access request settings', () => {
    it('put replaces; an empty list removes', async () => {
      const store = c.store()
      const resource = `projects/${unique('p-')}`
      const tests = [{ member: 'user:bob@example.com', permission: 'run.routes.invoke', expect: 'deny' }]
      await store.putAccessTests({ resource, resourceUid: 'u1', tests, updateTime: 5, updater: 'user:a@example.com' })
      expect(await store.getAccessTests(resource)).toEqual({ resource, resourceUid: 'u1', tests, updateTime: 5, updater: 'user:a@example.com' })
      const next = [...tests, { member: 'group:oncall@example.com', permission: 'run.routes.invoke', expect: 'allow' }]
      await store.putAccessTests({ resource, resourceUid: 'u2', tests: next, updateTime: 6, updater: 'user:b@example.com' })
      expect((await store.getAccessTests(resource))!.tests).toEqual(next)
      expect((await store.listAccessTests()).map((t) => t.resource)).toContain(resource)
      await store.putAccessTests({ resource, resourceUid: 'u2', tests: [], updateTime: 7, updater: 'user:b@example.com' })
      expect(await store.getAccessTests(resource)).toBeUndefined()
    })

    it('settings upsert', async () => {
      const store = c.store()
      const resource = `projects/my-project/services/${unique('s-')}`
      expect(await store.getAccessRequestSettings(resource)).toBeUndefined()
      await store.putAccessRequestSettings({ resource, resourceUid: 'u', maxDurationSeconds: 3600, updateTime: 1, updater: 'user:a@example.com' })
      await store.putAccessRequestSettings({ resource, resourceUid: 'u', maxDurationSeconds: 7200, updateTime: 2, updater: 'user:b@example.com' })
      expect(await store.getAccessRequestSettings(resource)).toEqual({ resource, resourceUid: 'u', maxDurationSeconds: 7200, updateTime: 2, updater: 'user:b@example.com' })
    })
  })
}
