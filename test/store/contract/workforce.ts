import { describe, expect, it } from 'vitest'
import { aFederatedSubject, aWorkforcePool, aWorkforceProvider, unique } from '../fixtures.js'
import type { ContractContext } from './context.js'

/** Workforce pools, their OIDC providers and federated subjects. */
export function workforceContract(c: ContractContext): void {
  describe('workforce pools', () => {
    it('inserts once (by id and by uid), reads, lists in order, updates the same pool only', async () => {
      const store = c.store()
      const tag = unique('')
      const [b, a] = [aWorkforcePool({ poolId: `b-pool-${tag}` }), aWorkforcePool({ poolId: `a-pool-${tag}` })]
      expect(await store.insertWorkforcePool(b)).toBe(true)
      expect(await store.insertWorkforcePool(a)).toBe(true)
      expect(await store.insertWorkforcePool({ ...a, uid: 'other' })).toBe(false)
      expect(await store.insertWorkforcePool(aWorkforcePool({ uid: a.uid }))).toBe(false)
      expect(await store.getWorkforcePool(a.poolId)).toEqual(a)
      const listed = (await store.listWorkforcePools()).filter((p) => p.poolId.endsWith(tag))
      expect(listed).toEqual([a, b])
      const next = { ...a, displayName: 'renamed', description: '', sessionDurationSeconds: 900, disabled: false, updateTime: a.updateTime + 7 }
      expect(await store.updateWorkforcePool(next)).toBe(true)
      expect(await store.getWorkforcePool(a.poolId)).toEqual(next)
      expect(await store.updateWorkforcePool({ ...next, uid: 'stale', displayName: 'ghost' })).toBe(false)
      expect(await store.getWorkforcePool(a.poolId)).toEqual(next)
    })

    it('deleting a pool deletes its providers and subjects, and only its own', async () => {
      const store = c.store()
      const [pool, other] = [aWorkforcePool(), aWorkforcePool()]
      await store.insertWorkforcePool(pool)
      await store.insertWorkforcePool(other)
      const provider = aWorkforceProvider(pool.poolId)
      const kept = aWorkforceProvider(other.poolId)
      await store.insertWorkforceProvider(provider)
      await store.insertWorkforceProvider(kept)
      const subject = await store.upsertFederatedSubject(aFederatedSubject(pool.poolId))
      const keptSubject = await store.upsertFederatedSubject(aFederatedSubject(other.poolId))
      expect(await store.deleteWorkforcePool(pool.poolId)).toBe(true)
      expect(await store.deleteWorkforcePool(pool.poolId)).toBe(false)
      expect(await store.getWorkforcePool(pool.poolId)).toBeUndefined()
      expect(await store.listWorkforceProviders(pool.poolId)).toEqual([])
      expect(await store.getFederatedSubject(subject.uid)).toBeUndefined()
      expect(await store.getWorkforceProvider(other.poolId, kept.providerId)).toEqual(kept)
      expect(await store.getFederatedSubject(keptSubject.uid)).toEqual(keptSubject)
      // Recreated with the same id, the pool starts empty.
      await store.insertWorkforcePool(aWorkforcePool({ poolId: pool.poolId }))
      expect(await store.listWorkforceProviders(pool.poolId)).toEqual([])
      expect(await store.listFederatedSubjects(pool.poolId)).toEqual([])
    })
  })

  describe('workforce providers', () => {
    it('inserts once, reads, lists by pool in order, updates the same provider only, deletes once', async () => {
      const store = c.store()
      const pool = aWorkforcePool()
      await store.insertWorkforcePool(pool)
      const [b, a] = [aWorkforceProvider(pool.poolId, { providerId: 'b-prov' }), aWorkforceProvider(pool.poolId, { providerId: 'a-prov', jwksJson: null, attributeCondition: '' })]
      expect(await store.insertWorkforceProvider(b)).toBe(true)
      expect(await store.insertWorkforceProvider(a)).toBe(true)
      expect(await store.insertWorkforceProvider({ ...a, uid: 'other' })).toBe(false)
      expect(await store.getWorkforceProvider(pool.poolId, 'a-prov')).toEqual(a)
      expect(await store.getWorkforceProvider(pool.poolId, 'nope')).toBeUndefined()
      expect(await store.listWorkforceProviders(pool.poolId)).toEqual([a, b])
      expect(await store.listWorkforceProviders()).toEqual(expect.arrayContaining([a, b]))
      const next = { ...a, issuerUri: 'https://other.example', clientId: 'c2', jwksJson: '{"keys":[{"kty":"EC"}]}', attributeMapping: { 'postern.subject': 'assertion.email' }, attributeCondition: 'true', disabled: false, consoleSignIn: false, updateTime: a.updateTime + 1 }
      expect(await store.updateWorkforceProvider(next)).toBe(true)
      expect(await store.getWorkforceProvider(pool.poolId, 'a-prov')).toEqual(next)
      expect(await store.updateWorkforceProvider({ ...next, uid: 'stale' })).toBe(false)
      expect(await store.deleteWorkforceProvider(pool.poolId, 'a-prov')).toBe(true)
      expect(await store.deleteWorkforceProvider(pool.poolId, 'a-prov')).toBe(false)
      expect(await store.listWorkforceProviders(pool.poolId)).toEqual([b])
    })

    it('deleting a provider deletes the subjects it signed in, and only those', async () => {
      const store = c.store()
      const pool = aWorkforcePool()
      await store.insertWorkforcePool(pool)
      const [gone, kept] = [aWorkforceProvider(pool.poolId), aWorkforceProvider(pool.poolId)]
      await store.insertWorkforceProvider(gone)
      await store.insertWorkforceProvider(kept)
      const subject = unique('s-')
      const viaGone = await store.upsertFederatedSubject(aFederatedSubject(pool.poolId, { subject, providerId: gone.providerId, providerUid: gone.uid }))
      const viaKept = await store.upsertFederatedSubject(aFederatedSubject(pool.poolId, { subject, providerId: kept.providerId, providerUid: kept.uid }))
      expect(await store.deleteWorkforceProvider(pool.poolId, gone.providerId)).toBe(true)
      expect(await store.getFederatedSubject(viaGone.uid)).toBeUndefined()
      expect(await store.getFederatedSubject(viaKept.uid)).toEqual(viaKept)
    })
  })

  describe('federated subjects', () => {
    it('the first sign-in through a provider fixes the uid; later ones update what was mapped and keep uid and createTime', async () => {
      const store = c.store()
      const poolId = unique('fs-pool-')
      const first = aFederatedSubject(poolId, { email: null, groups: [], attributes: {} })
      expect(await store.upsertFederatedSubject(first)).toEqual(first)
      expect(await store.getFederatedSubject(first.uid)).toEqual(first)
      expect(await store.findFederatedSubject(poolId, first.subject)).toEqual(first)
      const again = aFederatedSubject(poolId, { subject: first.subject, displayName: 'Ann B.', groups: ['eng'], attributes: { dept: 'x' }, createTime: 9, lastSignInTime: 1_700_000_999_000 })
      const stored = await store.upsertFederatedSubject(again)
      expect(stored).toEqual({ ...again, uid: first.uid, createTime: first.createTime })
      expect(await store.getFederatedSubject(again.uid)).toBeUndefined()
      expect(await store.findFederatedSubject(poolId, first.subject)).toEqual(stored)
      expect(await store.findFederatedSubject(unique('other-'), first.subject)).toBeUndefined()
    })

    it('the same subject through another provider of the pool is another record; find returns the latest sign-in', async () => {
      const store = c.store()
      const poolId = unique('fs-pool-')
      const first = await store.upsertFederatedSubject(aFederatedSubject(poolId, { lastSignInTime: 1_700_000_000_100 }))
      const other = await store.upsertFederatedSubject(aFederatedSubject(poolId, { subject: first.subject, providerId: 'prov-y', providerUid: 'prov-y-uid', lastSignInTime: 1_700_000_000_200 }))
      expect(other.uid).not.toBe(first.uid)
      expect(await store.getFederatedSubject(first.uid)).toEqual(first)
      expect(await store.findFederatedSubject(poolId, first.subject)).toEqual(other)
      expect(await store.listFederatedSubjects(poolId)).toEqual([first, other])
      expect(await store.listFederatedSubjects(poolId, 'prov-y-uid')).toEqual([other])
    })

    it('concurrent first sign-ins of one subject agree on one uid', async () => {
      const store = c.store()
      const poolId = unique('fs-pool-')
      const subject = unique('s-')
      const results = await Promise.all(Array.from({ length: 8 }, () => store.upsertFederatedSubject(aFederatedSubject(poolId, { subject }))))
      expect(new Set(results.map((r) => r.uid)).size).toBe(1)
      expect(await store.listFederatedSubjects(poolId)).toHaveLength(1)
    })

    it('lists a pool’s subjects in code-point order', async () => {
      const store = c.store()
      const poolId = unique('fs-pool-')
      for (const s of ['b', 'a_c', 'a-b', 'A']) await store.upsertFederatedSubject(aFederatedSubject(poolId, { subject: s }))
      expect((await store.listFederatedSubjects(poolId)).map((s) => s.subject)).toEqual(['A', 'a-b', 'a_c', 'b'])
    })
  })
}
