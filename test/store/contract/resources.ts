import { describe, expect, it } from 'vitest'
import { EMPTY_ETAG } from '../../../src/iam/policy.js'
import { aPolicy, aProject, aService, unique } from '../fixtures.js'
import type { ContractContext } from './context.js'

export function resourcesContract(c: ContractContext): void {
  describe('projects', () => {
    it('inserts once, reads back, lists, deletes once', async () => {
      const store = c.store()
      const p = aProject()
      expect(await store.insertProject(p)).toBe(true)
      expect(await store.insertProject({ ...p, uid: 'other' })).toBe(false)
      expect(await store.getProject(p.projectId)).toEqual(p)
      const listed = await store.listProjects()
      expect(listed).toContainEqual(p)
      expect(listed.map((x) => x.projectId)).toEqual(listed.map((x) => x.projectId).sort())
      expect(await store.deleteProject(p.projectId)).toBe(true)
      expect(await store.deleteProject(p.projectId)).toBe(false)
      expect(await store.getProject(p.projectId)).toBeUndefined()
    })
  })

  describe('services', () => {
    it('round-trips every field; a second insert of the same name returns false and changes nothing', async () => {
      const store = c.store()
      const s = aService()
      expect(await store.insertService(s)).toBe(true)
      expect(await store.getService(s.projectId, s.serviceId)).toEqual(s)
      expect(await store.insertService({ ...s, upstream: 'http://elsewhere', etag: 'x' })).toBe(false)
      expect(await store.getService(s.projectId, s.serviceId)).toEqual(s)
      const quiet = aService({ invokerIamDisabled: false, strictAudience: false, browserAccess: true, useHttp2: false, customAudiences: [], labels: {}, description: '' })
      expect(await store.insertService(quiet)).toBe(true)
      expect(await store.getService(quiet.projectId, quiet.serviceId)).toEqual(quiet)
    })

    it('lists by project in service order', async () => {
      const store = c.store()
      const projectId = unique('lp-')
      const [b, a] = [aService({ projectId, serviceId: 'b-svc' }), aService({ projectId, serviceId: 'a-svc' })]
      await store.insertService(b)
      await store.insertService(a)
      await store.insertService(aService())
      expect(await store.listServices(projectId)).toEqual([a, b])
      const all = await store.listServices()
      expect(all).toContainEqual(a)
      expect(all).toContainEqual(b)
      expect(all.length).toBeGreaterThan(2)
    })

    it('updateService is a compare-and-set on the etag', async () => {
      const store = c.store()
      const s = aService()
      await store.insertService(s)
      const next = { ...s, upstream: 'http://127.0.0.1:1/next', labels: { v: '2' }, browserAccess: !s.browserAccess, useHttp2: !s.useHttp2, updateTime: s.updateTime + 1, etag: unique('Bw') }
      expect(await store.updateService(next, 'stale-etag')).toBe(false)
      expect(await store.getService(s.projectId, s.serviceId)).toEqual(s)
      expect(await store.updateService(next, s.etag)).toBe(true)
      expect(await store.getService(s.projectId, s.serviceId)).toEqual(next)
      // The old etag is spent: a writer still holding it loses.
      expect(await store.updateService({ ...s, description: 'lost' }, s.etag)).toBe(false)
      expect(await store.getService(s.projectId, s.serviceId)).toEqual(next)
      expect(await store.updateService(aService(), 'any')).toBe(false)
    })

    it('deletes once', async () => {
      const store = c.store()
      const s = aService()
      await store.insertService(s)
      expect(await store.deleteService(s.projectId, s.serviceId)).toBe(true)
      expect(await store.deleteService(s.projectId, s.serviceId)).toBe(false)
      expect(await store.getService(s.projectId, s.serviceId)).toBeUndefined()
    })
  })

  describe('policies', () => {
    it('putPolicy with EMPTY_ETAG inserts only when there is no policy', async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('s')}`
      const first = aPolicy('user:ann@example.com')
      expect(EMPTY_ETAG).toBe('ACAB')
      expect(await store.putPolicy(resource, first, 'Bw1', EMPTY_ETAG)).toEqual({ resource, policy: first, etag: 'Bw1' })
      expect(await store.putPolicy(resource, aPolicy('user:eve@example.com'), 'Bw2', EMPTY_ETAG)).toBeUndefined()
      expect(await store.getPolicy(resource)).toEqual({ resource, policy: first, etag: 'Bw1' })
    })

    it('putPolicy with a wrong etag returns undefined and changes nothing; with the current one it writes', async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('s')}`
      const v1 = aPolicy('user:ann@example.com')
      await store.putPolicy(resource, v1, 'Bw1', EMPTY_ETAG)
      expect(await store.putPolicy(resource, aPolicy('user:eve@example.com'), 'Bw9', 'Bw0')).toBeUndefined()
      expect(await store.getPolicy(resource)).toEqual({ resource, policy: v1, etag: 'Bw1' })
      const v2 = { version: 3 as const, bindings: [{ role: 'roles/run.invoker' as const, members: ['user:bob@example.com' as const], condition: { title: 't', expression: 'true' } }] }
      expect(await store.putPolicy(resource, v2, 'Bw2', 'Bw1')).toEqual({ resource, policy: v2, etag: 'Bw2' })
      expect(await store.getPolicy(resource)).toEqual({ resource, policy: v2, etag: 'Bw2' })
      expect(await store.putPolicy(resource, v1, 'Bw3', 'Bw1')).toBeUndefined()
      // A non-empty etag never creates a policy that is not there.
      const absent = `projects/p/services/${unique('s')}`
      expect(await store.putPolicy(absent, v1, 'Bw1', 'Bw1')).toBeUndefined()
      expect(await store.getPolicy(absent)).toBeUndefined()
    })

    it('lists and deletes; after a delete EMPTY_ETAG inserts again', async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('s')}`
      const body = aPolicy('allUsers')
      await store.putPolicy(resource, body, 'Bw1', EMPTY_ETAG)
      expect(await store.listPolicies()).toContainEqual({ resource, policy: body, etag: 'Bw1' })
      await store.deletePolicy(resource)
      expect(await store.getPolicy(resource)).toBeUndefined()
      expect(await store.listPolicies()).not.toContainEqual(expect.objectContaining({ resource }))
      await store.deletePolicy(resource)
      expect(await store.putPolicy(resource, body, 'Bw2', EMPTY_ETAG)).toBeDefined()
    })

    it('findPoliciesMentioning returns every policy naming the member, treating _ and % in emails literally', async () => {
      const store = c.store()
      const tag = unique('')
      const member = `user:a_b%c.${tag}@example.com` as const
      const put = async (name: string, body: ReturnType<typeof aPolicy>) => {
        const resource = `projects/p/services/${name}-${tag}`
        await store.putPolicy(resource, body, 'Bw1', EMPTY_ETAG)
        return resource
      }
      const direct = await put('direct', aPolicy('user:zed@example.com', member))
      const conditional = await put('conditional', {
        version: 3,
        bindings: [
          { role: 'roles/run.viewer', members: ['group:x@example.com'] },
          { role: 'roles/run.invoker', members: [member], condition: { title: 'until', expression: "request.time < timestamp('2030-01-01T00:00:00Z')" } },
        ],
      })
      // Each of these matches only if `_` or `%` acts as a wildcard, or the member is matched as a bare substring.
      const underscore = await put('underscore', aPolicy(`user:aXb%c.${tag}@example.com`))
      const percent = await put('percent', aPolicy(`user:a_bLONGc.${tag}@example.com`))
      const longer = await put('longer', aPolicy(`user:a_b%c.${tag}@example.com.evil`))
      const otherKind = await put('group', aPolicy(`group:a_b%c.${tag}@example.com`))

      const found = (await store.findPoliciesMentioning(member)).map((p) => p.resource)
      expect(found).toEqual(expect.arrayContaining([direct, conditional]))
      for (const r of [underscore, percent, longer, otherKind]) expect(found).not.toContain(r)
      const records = await store.findPoliciesMentioning(member)
      expect(records.find((p) => p.resource === direct)).toEqual({ resource: direct, policy: aPolicy('user:zed@example.com', member), etag: 'Bw1' })
      expect(await store.findPoliciesMentioning(`user:nobody.${tag}@example.com`)).toEqual([])
    })
  })
}
