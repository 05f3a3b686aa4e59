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
      expect(bySvc.every((e) => e.count === 1)).toBe(true)
      expect(bySvc.map(({ id: _id, count: _count, ...e }) => e)).toEqual([written[3], written[1], written[0]])
      const ids = bySvc.map((e) => e.id)
      expect(ids).toEqual([...ids].sort((a, b) => b - a))
      expect((await store.listAudit({ principal: ann, limit: 100 })).map((e) => e.time)).toEqual([3, 2, 0].map((i) => written[i]!.time))
      expect((await store.listAudit({ principal: bob, resource: proj, limit: 100 })).map(({ id: _id, count: _count, ...e }) => e)).toEqual([written[4]])
      const newest = await store.listAudit({ limit: 2 })
      expect(newest.map(({ id: _id, count: _count, ...e }) => e)).toEqual([written[4], written[3]])
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

    it('counts occurrences into one entry per aggregate key, from concurrent writers too; the first writer’s time and details stay', async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('counted-')}`
      const entry = (time: number, path: string): NewAuditEntry => ({ time, principal: 'user:x@example.com', method: 'routes.invoke', resource, outcome: 'PERMISSION_DENIED', details: { path } })
      await store.countAudit(entry(1_000, '/first'), `k1-${resource}`, 3)
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.transaction((tx) => tx.countAudit(entry(2_000 + i, '/later'), `k1-${resource}`, 2))))
      await store.countAudit(entry(61_000, '/next-minute'), `k2-${resource}`, 1)
      await store.appendAudit(entry(62_000, '/plain'))
      const entries = await store.listAudit({ resource, limit: 100 })
      expect(entries.map((e) => [e.time, e.details.path, e.count])).toEqual([
        [62_000, '/plain', 1],
        [61_000, '/next-minute', 1],
        [1_000, '/first', 23],
      ])
    })

    it('purges entries older than the retention, and only those', async () => {
      const place = await c.backend.fresh()
      const store = await place.open()
      const resource = 'projects/p/services/purged'
      const far = 9_000_000_000_000
      for (const [i, time] of [far - 3_000, far - 2_000, far - 1_000, far].entries()) {
        if (i % 2) await store.countAudit({ time, principal: 'user:x@example.com', method: 'routes.invoke', resource, outcome: 'PERMISSION_DENIED', details: {} }, `purge-${resource}-${i}`, 5)
        else await store.appendAudit({ time, principal: 'user:x@example.com', method: 'm', resource, outcome: 'OK', details: {} })
      }
      expect(await store.purgeAudit(far - 1_500)).toBe(2)
      expect((await store.listAudit({ limit: 100 })).map((e) => e.time)).toEqual([far, far - 1_000])
      await place.cleanup()
    })
  })

  describe('change feed', () => {
    it('records changes inside a transaction; changesSince returns them in seq order', async () => {
      const store = c.store()
      const before = (await store.feedMark()).latest
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
      expect((await store.feedMark()).latest).toBe(seqs.at(-1))
      expect(await store.changesSince(before, 2)).toEqual(changes.slice(0, 2))
      expect(await store.changesSince(seqs[1]!, 100)).toEqual(changes.slice(2))
      expect(await store.changesSince(seqs.at(-1)!, 100)).toEqual([])
    })

    it('purging old changes keeps the newest, however old: a quiet feed does not look rewritten to the processes following it', async () => {
      const store = c.store()
      await store.recordChange('user', `quiet-${unique('')}`)
      const mark = await store.feedMark((await store.feedMark()).latest)
      expect(mark.at).toBeDefined()
      await store.purgeExpired(Date.now() + 3 * 86_400_000)
      expect(await store.feedMark(mark.latest)).toEqual(mark)
    })

    it('a rolled-back transaction leaves no change behind', async () => {
      const store = c.store()
      const before = (await store.feedMark()).latest
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
