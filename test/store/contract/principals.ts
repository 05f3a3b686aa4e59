import { describe, expect, it } from 'vitest'
import { aGroup, aServiceAccount, aServiceAccountKey, aUser, unique } from '../fixtures.js'
import type { ContractContext } from './context.js'

export function principalsContract(c: ContractContext): void {
  describe('list order', () => {
    // Code-point order puts '-' < '.' < '_' < letters; an en-US collation puts '_' < '-' < '.'.
    const names = ['a-b', 'a.z', 'a_c', 'aa', 'ab']

    it('lists come back in code-point order whatever the database locale', async () => {
      const place = await c.backend.fresh({ locale: 'en-US' })
      try {
        const store = await place.open()
        for (const n of [...names].reverse()) {
          await store.insertUser(aUser({ email: `${n}@example.com` }))
          await store.insertGroup(aGroup({ email: `${n}@example.com` }))
          await store.insertServiceAccount(aServiceAccount({ email: `${n}@p.iam.postern.internal` }))
          await store.addMembership({ group: 'aa@example.com', member: `user:${n}@example.com` })
        }
        expect((await store.listUsers()).map((u) => u.email)).toEqual(names.map((n) => `${n}@example.com`))
        expect((await store.listGroups()).map((g) => g.email)).toEqual(names.map((n) => `${n}@example.com`))
        expect((await store.listServiceAccounts('my-project')).map((a) => a.email)).toEqual(names.map((n) => `${n}@p.iam.postern.internal`))
        expect((await store.listMemberships('aa@example.com')).map((m) => m.member)).toEqual(names.map((n) => `user:${n}@example.com`))
        expect(await store.removeMemberEverywhere('user:a_c@example.com')).toEqual(['aa@example.com'])
      } finally {
        await place.cleanup()
      }
    })
  })

  describe('users', () => {
    it('inserts once (by email and by uid), reads by email and by uid', async () => {
      const store = c.store()
      const u = aUser()
      expect(await store.insertUser(u)).toBe(true)
      expect(await store.insertUser({ ...u, uid: 'another-uid' })).toBe(false)
      expect(await store.insertUser(aUser({ uid: u.uid }))).toBe(false)
      expect(await store.getUser(u.email)).toEqual(u)
      expect(await store.getUserByUid(u.uid)).toEqual(u)
      expect(await store.getUser(`nobody-${u.email}`)).toBeUndefined()
      const federated = aUser({ passwordHash: null, disabled: false })
      await store.insertUser(federated)
      expect(await store.getUser(federated.email)).toEqual(federated)
      const listed = await store.listUsers()
      expect(listed).toEqual(expect.arrayContaining([u, federated]))
      expect(listed.map((x) => x.email)).toEqual(listed.map((x) => x.email).sort())
    })

    it('updates the mutable fields of the same identity only', async () => {
      const store = c.store()
      const u = aUser()
      await store.insertUser(u)
      const next = { ...u, displayName: 'Ann B.', passwordHash: null, disabled: false, updateTime: u.updateTime + 5 }
      expect(await store.updateUser(next)).toBe(true)
      expect(await store.getUser(u.email)).toEqual(next)
      // A record for a deleted-and-recreated account with the same email must not touch the new one.
      expect(await store.updateUser({ ...next, uid: 'stale-uid', displayName: 'ghost' })).toBe(false)
      expect(await store.getUser(u.email)).toEqual(next)
      expect(await store.updateUser(aUser())).toBe(false)
    })

    it('deletes once; the uid is gone too', async () => {
      const store = c.store()
      const u = aUser()
      await store.insertUser(u)
      expect(await store.deleteUser(u.email)).toBe(true)
      expect(await store.deleteUser(u.email)).toBe(false)
      expect(await store.getUser(u.email)).toBeUndefined()
      expect(await store.getUserByUid(u.uid)).toBeUndefined()
      const again = aUser({ email: u.email })
      expect(await store.insertUser(again)).toBe(true)
      expect(await store.getUser(u.email)).toEqual(again)
    })
  })

  describe('groups and memberships', () => {
    it('inserts once, reads, lists', async () => {
      const store = c.store()
      const g = aGroup()
      expect(await store.insertGroup(g)).toBe(true)
      expect(await store.insertGroup({ ...g, uid: 'other' })).toBe(false)
      expect(await store.getGroup(g.email)).toEqual(g)
      expect(await store.listGroups()).toContainEqual(g)
    })

    it('adds and removes members once each, listing them in order', async () => {
      const store = c.store()
      const g = aGroup()
      await store.insertGroup(g)
      const [zed, amy] = [`user:zed-${unique('')}@example.com`, `user:amy-${unique('')}@example.com`]
      expect(await store.addMembership({ group: g.email, member: zed })).toBe(true)
      expect(await store.addMembership({ group: g.email, member: zed })).toBe(false)
      expect(await store.addMembership({ group: g.email, member: amy })).toBe(true)
      expect(await store.listMemberships(g.email)).toEqual([{ group: g.email, member: amy }, { group: g.email, member: zed }])
      expect(await store.listMemberships()).toEqual(expect.arrayContaining([{ group: g.email, member: amy }, { group: g.email, member: zed }]))
      expect(await store.removeMembership({ group: g.email, member: zed })).toBe(true)
      expect(await store.removeMembership({ group: g.email, member: zed })).toBe(false)
      expect(await store.listMemberships(g.email)).toEqual([{ group: g.email, member: amy }])
    })

    it('removeMemberEverywhere removes the member from every group and returns those groups', async () => {
      const store = c.store()
      const [g1, g2, g3] = [aGroup(), aGroup(), aGroup()]
      for (const g of [g1, g2, g3]) await store.insertGroup(g)
      const member = `group:${g3.email}`
      const bystander = `user:${unique('b')}@example.com`
      await store.addMembership({ group: g1.email, member })
      await store.addMembership({ group: g2.email, member })
      await store.addMembership({ group: g2.email, member: bystander })
      expect((await store.removeMemberEverywhere(member)).sort()).toEqual([g1.email, g2.email].sort())
      expect(await store.listMemberships(g1.email)).toEqual([])
      expect(await store.listMemberships(g2.email)).toEqual([{ group: g2.email, member: bystander }])
      expect(await store.removeMemberEverywhere(member)).toEqual([])
    })

    it('deleting a group deletes its memberships', async () => {
      const store = c.store()
      const g = aGroup()
      await store.insertGroup(g)
      await store.addMembership({ group: g.email, member: 'user:x@example.com' })
      expect(await store.deleteGroup(g.email)).toBe(true)
      expect(await store.deleteGroup(g.email)).toBe(false)
      expect(await store.getGroup(g.email)).toBeUndefined()
      expect(await store.listMemberships(g.email)).toEqual([])
      // A group recreated with the same email starts empty.
      await store.insertGroup(aGroup({ email: g.email }))
      expect(await store.listMemberships(g.email)).toEqual([])
    })
  })

  describe('service accounts and keys', () => {
    it('inserts once, reads by email and uid, lists by project, updates', async () => {
      const store = c.store()
      const projectId = unique('sap-')
      const [b, a] = [aServiceAccount({ projectId, email: `b-${unique('')}@x.iam` }), aServiceAccount({ projectId, email: `a-${unique('')}@x.iam` })]
      expect(await store.insertServiceAccount(b)).toBe(true)
      expect(await store.insertServiceAccount(a)).toBe(true)
      expect(await store.insertServiceAccount({ ...a, uid: 'other' })).toBe(false)
      expect(await store.getServiceAccount(a.email)).toEqual(a)
      expect(await store.getServiceAccountByUid(b.uid)).toEqual(b)
      expect(await store.listServiceAccounts(projectId)).toEqual([a, b])
      expect(await store.listServiceAccounts()).toEqual(expect.arrayContaining([a, b]))
      const next = { ...a, displayName: 'renamed', disabled: false }
      expect(await store.updateServiceAccount(next)).toBe(true)
      expect(await store.getServiceAccount(a.email)).toEqual(next)
      expect(await store.updateServiceAccount({ ...next, uid: 'stale' })).toBe(false)
    })

    it('keeps a description as given, any text, and changes it on update', async () => {
      const store = c.store()
      const sa = aServiceAccount({ description: 'Déploie — main\nline 2 ✓' })
      expect(await store.insertServiceAccount(sa)).toBe(true)
      expect((await store.getServiceAccount(sa.email))?.description).toBe(sa.description)
      expect(await store.updateServiceAccount({ ...sa, description: '' })).toBe(true)
      expect((await store.getServiceAccount(sa.email))?.description).toBe('')
    })

    it('keys: insert once, read, list by account in creation order, delete once', async () => {
      const store = c.store()
      const sa = aServiceAccount()
      await store.insertServiceAccount(sa)
      const [k2, k1] = [aServiceAccountKey(sa.email, { createTime: 2000 }), aServiceAccountKey(sa.email, { createTime: 1000 })]
      expect(await store.insertServiceAccountKey(k2)).toBe(true)
      expect(await store.insertServiceAccountKey(k1)).toBe(true)
      expect(await store.insertServiceAccountKey({ ...k1, publicKeyPem: 'other' })).toBe(false)
      expect(await store.getServiceAccountKey(k1.keyId)).toEqual(k1)
      expect(await store.listServiceAccountKeys(sa.email)).toEqual([k1, k2])
      expect(await store.deleteServiceAccountKey(k1.keyId)).toBe(true)
      expect(await store.deleteServiceAccountKey(k1.keyId)).toBe(false)
      expect(await store.listServiceAccountKeys(sa.email)).toEqual([k2])
    })

    it('deleting a service account deletes its keys and only its keys', async () => {
      const store = c.store()
      const [sa, other] = [aServiceAccount(), aServiceAccount()]
      await store.insertServiceAccount(sa)
      await store.insertServiceAccount(other)
      const keys = [aServiceAccountKey(sa.email), aServiceAccountKey(sa.email)]
      const kept = aServiceAccountKey(other.email)
      for (const k of [...keys, kept]) await store.insertServiceAccountKey(k)
      expect(await store.deleteServiceAccount(sa.email)).toBe(true)
      expect(await store.deleteServiceAccount(sa.email)).toBe(false)
      expect(await store.getServiceAccount(sa.email)).toBeUndefined()
      expect(await store.getServiceAccountByUid(sa.uid)).toBeUndefined()
      expect(await store.listServiceAccountKeys(sa.email)).toEqual([])
      for (const k of keys) expect(await store.getServiceAccountKey(k.keyId)).toBeUndefined()
      expect(await store.getServiceAccountKey(kept.keyId)).toEqual(kept)
    })
  })
}
