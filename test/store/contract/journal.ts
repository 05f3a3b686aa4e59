import { describe, expect, it } from 'vitest'
import type { NewAuditEntry } from '../../../src/store/records.js'
import { aUser, unique } from '../fixtures.js'
import type { ContractContext } from './context.js'

export function journalContract(c: ContractContext): void {
  describe('audit log', () => {
    it('appends and lists newest first, filtered by resource, principal or both', async () => {
      const store = c.store()
      const tag = unique('')
      const [ann, bob] = [`user:ann-${tag}@example.com`, `user:bob-${tag}@example.com`]
      const [svc, proj] = [`projects/p/services/s-${tag}`, `projects/p-${tag}`]
      const entry = (principal: string, resource: string, i: number): NewAuditEntry => ({
        time: 1_700_000_000_000 + i, principal, method: 'services.update', resource,
        outcome: i % 2 ? 'OK' : 'PERMISSION_DENIED', details: { i, nested: { list: [1, 'two'] }, text: 'ünï "q"' },
      })
      const written = [entry(ann, svc, 0), entry(bob, svc, 1), entry(ann, proj, 2), entry(ann, svc, 3), entry(bob, proj, 4)]
      for (const e of written) await store.appendAudit(e)

      const bySvc = await store.listAudit({ resource: svc, limit: 100 })
      expect(bySvc.map(({ id: _id, ...e }) => e)).toEqual([written[3], written[1], written[0]])
      const ids = bySvc.map((e) => e.id)
      expect(ids).toEqual([...ids].sort((a, b) => b - a))
      expect((await store.listAudit({ principal: ann, limit: 100 })).map((e) => e.time)).toEqual([3, 2, 0].map((i) => written[i]!.time))
      expect((await store.listAudit({ principal: bob, resource: proj, limit: 100 })).map(({ id: _id, ...e }) => e)).toEqual([written[4]])
      const newest = await store.listAudit({ limit: 2 })
      expect(newest.map(({ id: _id, ...e }) => e)).toEqual([written[4], written[3]])
    })

    it('pages with beforeId and limit, without gaps or repeats', async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('paged-')}`
      for (let i = 0; i < 7; i++) {
        await store.appendAudit({ time: i, principal: 'user:x@example.com', method: 'm', resource, outcome: 'OK', details: {} })
      }
      const all = await store.listAudit({ resource, limit: 100 })
      expect(all.map((e) => e.time)).toEqual([6, 5, 4, 3, 2, 1, 0])
      const pages: number[][] = []
      let beforeId: number | undefined
      for (;;) {
        const page = await store.listAudit({ resource, limit: 3, ...(beforeId === undefined ? {} : { beforeId }) })
        if (page.length === 0) break
        pages.push(page.map((e) => e.time))
        beforeId = page.at(-1)!.id
      }
      expect(pages).toEqual([[6, 5, 4], [3, 2, 1], [0]])
    })
  })

  describe('change feed', () => {
    it('records changes inside a transaction; changesSince returns them in seq order', async () => {
      const store = c.store()
      const before = await store.latestChangeSeq()
      const tag = unique('')
      await store.transaction(async (tx) => {
        await tx.recordChange('service', `a-${tag}`)
        await tx.recordChange('policy', `b-${tag}`)
        await tx.recordChange('group', `c-${tag}`)
      })
      await store.recordChange('user', `d-${tag}`)
      const changes = await store.changesSince(before, 100)
      expect(changes.map((ch) => [ch.kind, ch.key])).toEqual([['service', `a-${tag}`], ['policy', `b-${tag}`], ['group', `c-${tag}`], ['user', `d-${tag}`]])
      const seqs = changes.map((ch) => ch.seq)
      expect(seqs.every((s, i) => s > before && (i === 0 || s > seqs[i - 1]!))).toBe(true)
      expect(await store.latestChangeSeq()).toBe(seqs.at(-1))
      expect(await store.changesSince(before, 2)).toEqual(changes.slice(0, 2))
      expect(await store.changesSince(seqs[1]!, 100)).toEqual(changes.slice(2))
      expect(await store.changesSince(seqs.at(-1)!, 100)).toEqual([])
    })

    it('a rolled-back transaction leaves no change behind', async () => {
      const store = c.store()
      const before = await store.latestChangeSeq()
      await expect(store.transaction(async (tx) => {
        await tx.recordChange('user', 'never')
        throw new Error('abandon')
      })).rejects.toThrow('abandon')
      expect(await store.changesSince(before, 100)).toEqual([])
      const u = aUser()
      await store.transaction(async (tx) => {
        await tx.insertUser(u)
        await tx.recordChange('user', u.email)
      })
      expect((await store.changesSince(before, 100)).map((ch) => ch.key)).toEqual([u.email])
    })
  })
}
