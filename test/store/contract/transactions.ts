import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { EMPTY_ETAG } from '../../../src/iam/policy.js'
import type { Member } from '../../../src/iam/members.js'
import type { ChangeKind } from '../../../src/store/records.js'
import { aPolicy, aProject, aService, aSigningKey, aUser, unique } from '../fixtures.js'
import { freshPlaces, type ContractContext } from './context.js'

const CONCURRENCY = 50

export function transactionsContract(c: ContractContext): void {
  const freshPlace = freshPlaces(c, (p) => expect(p.errors).toEqual([]))

  describe('transactions', () => {
    it('commit together and return what the function returns; a transaction sees its own writes', async () => {
      const store = c.store()
      const [p, u] = [aProject(), aUser()]
      const result = await store.transaction(async (tx) => {
        await tx.insertProject(p)
        await tx.insertUser(u)
        return { sawProject: await tx.getProject(p.projectId), sawUser: await tx.getUserByUid(u.uid) }
      })
      expect(result).toEqual({ sawProject: p, sawUser: u })
      expect(await store.getProject(p.projectId)).toEqual(p)
    })

    it('a throw rolls back every write and rethrows the same error', async () => {
      const store = c.store()
      const [p, u, s] = [aProject(), aUser(), aService()]
      const resource = `projects/p/services/${unique('rb')}`
      const existing = aService()
      await store.insertService(existing)
      const before = (await store.feedMark()).latest
      const boom = new Error('boom')
      await expect(store.transaction(async (tx) => {
        await tx.insertProject(p)
        await tx.insertUser(u)
        await tx.insertService(s)
        await tx.updateService({ ...existing, upstream: 'http://changed' }, existing.etag)
        await tx.putPolicy(resource, aPolicy('allUsers'), 'Bw1', EMPTY_ETAG)
        await tx.appendAudit({ time: 1, principal: 'user:x', method: 'm', resource, outcome: 'OK', details: {} })
        await tx.recordChange('project', p.projectId)
        throw boom
      })).rejects.toBe(boom)
      expect(await store.getProject(p.projectId)).toBeUndefined()
      expect(await store.getUser(u.email)).toBeUndefined()
      expect(await store.getService(s.projectId, s.serviceId)).toBeUndefined()
      expect(await store.getService(existing.projectId, existing.serviceId)).toEqual(existing)
      expect(await store.getPolicy(resource)).toBeUndefined()
      expect(await store.listAudit({ resource, limit: 10 })).toEqual([])
      expect((await store.feedMark()).latest).toBe(before)
      // The store is usable afterwards.
      expect(await store.insertProject(p)).toBe(true)
    })
  })

  describe('concurrency', () => {
    it(`of ${CONCURRENCY} transactions putting a policy with the same etag, exactly one succeeds`, async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('cas')}`
      await store.putPolicy(resource, aPolicy(), 'Bw0', EMPTY_ETAG)
      const etag = (await store.getPolicy(resource))!.etag
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
        store.transaction(async (tx) => {
          const current = await tx.getPolicy(resource)
          const written = await tx.putPolicy(resource, aPolicy(`user:w${i}@example.com`), `Bw-${i}`, etag)
          if (written) await tx.recordChange('policy', resource)
          return { i, current, written }
        })))
      const winners = results.filter((r) => r.written)
      expect(winners).toHaveLength(1)
      const winner = winners[0]!
      expect(await store.getPolicy(resource)).toEqual({ resource, policy: aPolicy(`user:w${winner.i}@example.com`), etag: `Bw-${winner.i}` })
    })

    it(`of ${CONCURRENCY} autocommitted putPolicy calls with the same etag, exactly one succeeds`, async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('cas')}`
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
        store.putPolicy(resource, aPolicy(`user:w${i}@example.com`), `Bw-${i}`, EMPTY_ETAG)))
      expect(results.filter(Boolean)).toHaveLength(1)
    })

    it(`${CONCURRENCY} read-modify-write transactions lose no update`, async () => {
      const store = c.store()
      const resource = `projects/p/services/${unique('rmw')}`
      await store.putPolicy(resource, aPolicy(), 'Bw0', EMPTY_ETAG)
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
        store.transaction(async (tx) => {
          const current = (await tx.getPolicy(resource))!
          const members = [...current.policy.bindings[0]!.members, `user:w${i}@example.com` as Member]
          const written = await tx.putPolicy(resource, aPolicy(...members), `Bw-${i}`, current.etag)
          // Inside a serializable transaction the etag just read is still current.
          if (!written) throw new Error(`lost the compare-and-set on an etag read in the same transaction (writer ${i})`)
        })))
      const members = (await store.getPolicy(resource))!.policy.bindings[0]!.members
      expect([...members].sort()).toEqual(Array.from({ length: CONCURRENCY }, (_, i) => `user:w${i}@example.com`).sort())
    })

    it(`of ${CONCURRENCY} transactions rotating the signing key with the same bound, exactly one inserts`, async () => {
      const store = await (await freshPlace()).open()
      const now = 1_700_000_000_000
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
        store.transaction(async (tx) => {
          const keys = await tx.listSigningKeys()
          const inserted = await tx.insertSigningKey(aSigningKey({ createTime: now + i }), now - 1)
          if (inserted) await tx.recordChange('signingKey', `k${i}`)
          return { before: keys.length, inserted }
        })))
      expect(results.filter((r) => r.inserted)).toHaveLength(1)
      expect(await store.listSigningKeys()).toHaveLength(1)
      expect(await store.changesSince(0, 100)).toHaveLength(1)
    })

    it(`of ${CONCURRENCY} autocommitted insertSigningKey calls with the same bound, exactly one inserts`, async () => {
      const store = await (await freshPlace()).open()
      const now = 1_700_000_000_000
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => store.insertSigningKey(aSigningKey({ createTime: now + i }), now - 1)))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await store.listSigningKeys()).toHaveLength(1)
    })

    // Only PostgreSQL is shared by several processes (DESIGN §2); two SQLite stores in one process would
    // wait on each other's write lock synchronously.
    it.skipIf(!c.backend.sharedByProcesses)('check-then-insert stays single-winner when two processes race', async () => {
      const place = await freshPlace()
      const [a, b] = [await place.open(), await place.open()]
      const now = 1_700_000_000_000
      const results = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
        (i % 2 ? a : b).transaction((tx) => tx.insertSigningKey(aSigningKey({ createTime: now + i }), now - 1))))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await a.listSigningKeys()).toHaveLength(1)
    })
  })

  describe('change feed under concurrent writers', () => {
    it('a follower polling while writers commit sees every seq exactly once, skipping none', async () => {
      const place = await freshPlace()
      const writers = c.backend.sharedByProcesses ? [await place.open(), await place.open()] : [await place.open()]
      const follower = await place.open()
      const kinds: ChangeKind[] = ['service', 'policy', 'group', 'user']
      let done = false
      const seen: number[] = []
      const follow = (async () => {
        let last = 0
        for (let idle = false; !idle;) {
          const finished = done
          const batch = await follower.changesSince(last, 17)
          for (const ch of batch) {
            expect(ch.seq).toBeGreaterThan(last)
            seen.push(ch.seq)
            last = ch.seq
          }
          // Stop only after a poll that began once every writer had committed came back empty.
          idle = finished && batch.length === 0
          // SQLite answers synchronously: without yielding, this loop would starve the writers' timers.
          await new Promise(setImmediate)
        }
      })()
      const TRANSACTIONS = 200
      await Promise.all(Array.from({ length: TRANSACTIONS }, async (_, i) => {
        const store = writers[i % writers.length]!
        await store.transaction(async (tx) => {
          await tx.getPolicy(`projects/p/services/s${i % 7}`)
          // Time between drawing a number and committing is when a follower could overtake a slow writer.
          await tx.recordChange(kinds[i % kinds.length]!, `k${i}-a`)
          await sleep(i % 5)
          if (i % 3 === 0) await tx.recordChange('project', `k${i}-b`)
          if (i % 10 === 0) throw Object.assign(new Error('rolled back on purpose'), { expected: true })
        }).catch((err: { expected?: boolean }) => {
          if (!err.expected) throw err
        })
      }))
      done = true
      await follow
      const all = (await follower.changesSince(0, 10_000)).map((ch) => ch.seq)
      const committed = Array.from({ length: TRANSACTIONS }, (_, i) => i).filter((i) => i % 10 !== 0)
      expect(all).toHaveLength(committed.length + committed.filter((i) => i % 3 === 0).length)
      expect(seen).toEqual(all)
    })
  })
}
