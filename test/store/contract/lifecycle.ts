import { describe, expect, it } from 'vitest'
import { aDeviceCode, aGroup, aPolicy, aProject, aService, aServiceAccount, aSession, aSigningKey, aUser, aWorkforcePool, aWorkforceProvider } from '../fixtures.js'
import { EMPTY_ETAG } from '../../../src/iam/policy.js'
import { runAndKillWriter } from '../writer-process.js'
import { freshPlaces, type ContractContext } from './context.js'

export function lifecycleContract(c: ContractContext): void {
  const freshPlace = freshPlaces(c)

  describe('durability', () => {
    it('every write acknowledged before the writing process is SIGKILLed is there after reopening', async () => {
      const place = await freshPlace()
      const { acknowledged, signal } = await runAndKillWriter(place.options, 300)
      expect(signal).toBe('SIGKILL')
      const store = await place.open()
      const missing: string[] = []
      const changed = new Set((await store.changesSince(0, 100_000)).map((ch) => ch.key))
      for (const n of acknowledged) {
        const email = `durable-${n}@example.com`
        const user = await store.getUser(email)
        if (user?.uid !== `uid-${n}`) missing.push(`user ${email}`)
        if (!changed.has(email)) missing.push(`change for ${email}`)
        if ((await store.listAudit({ resource: `durable/${n}`, limit: 1 })).length !== 1) missing.push(`audit entry durable/${n}`)
      }
      expect(missing).toEqual([])
      // The store is writable after the crash.
      expect(await store.insertUser(aUser())).toBe(true)
    })
  })

  describe('migrations', () => {
    it('opening an existing store again keeps its data and migrates nothing twice', async () => {
      const place = await freshPlace()
      const first = await place.open()
      const p = aProject()
      await first.insertProject(p)
      await first.close()
      const second = await place.open()
      expect(await second.getProject(p.projectId)).toEqual(p)
      const third = await place.open()
      expect(await third.listProjects()).toEqual([p])
      await third.ping()
    })

    it.skipIf(!c.backend.sharedByProcesses)('several processes starting at once on an empty database all come up', async () => {
      const place = await freshPlace()
      const stores = await Promise.all(Array.from({ length: 6 }, () => place.open()))
      const projects = Array.from({ length: stores.length }, () => aProject())
      await Promise.all(stores.map((s, i) => s.insertProject(projects[i]!)))
      for (const s of stores) expect(await s.listProjects()).toHaveLength(stores.length)
      expect(place.errors).toEqual([])
    })

    it('carries federated subjects over to per-provider identities, with their provider’s uid; those of providers gone are dropped', async () => {
      const place = await freshPlace()
      const store = await place.open()
      const pool = aWorkforcePool()
      const provider = aWorkforceProvider(pool.poolId, { providerId: 'okta' })
      await store.insertWorkforcePool(pool)
      await store.insertWorkforceProvider(provider)
      await store.close()
      // The table as schema version 5 had it: one subject per (pool, subject), naming its last provider by id only.
      await place.raw(`DELETE FROM schema_migrations WHERE version IN (6, 7)`)
      await place.raw(`DROP TABLE federated_subjects`)
      await place.raw(`CREATE TABLE federated_subjects (uid TEXT PRIMARY KEY, pool_id TEXT NOT NULL, subject TEXT NOT NULL, provider_id TEXT NOT NULL,
        display_name TEXT NOT NULL, email TEXT, groups_json TEXT NOT NULL, attributes_json TEXT NOT NULL, create_time BIGINT NOT NULL,
        last_sign_in_time BIGINT NOT NULL, UNIQUE (pool_id, subject))`)
      for (const [uid, subject, providerId] of [['uid-ann', 'ann', 'okta'], ['uid-bob', 'bob', 'gone']]) {
        await place.raw(`INSERT INTO federated_subjects VALUES ('${uid}', '${pool.poolId}', '${subject}', '${providerId}', 'Name', NULL, '["eng"]', '{}', 1, 2)`)
      }
      const migrated = await place.open()
      expect(await migrated.getFederatedSubject('uid-ann')).toEqual({
        uid: 'uid-ann', poolId: pool.poolId, subject: 'ann', providerId: 'okta', providerUid: provider.uid, displayName: 'Name', email: null, groups: ['eng'], attributes: {}, createTime: 1, lastSignInTime: 2,
      })
      expect(await migrated.getFederatedSubject('uid-bob')).toBeUndefined()
    })

    it('device codes stored before schema version 12 come through its migration with no request time or address', async () => {
      const place = await freshPlace()
      await (await place.open()).close()
      // The table as schema version 11 had it, with a pending code in it.
      await place.raw(`DELETE FROM schema_migrations WHERE version = 12`)
      await place.raw(`ALTER TABLE device_codes DROP COLUMN request_time`)
      await place.raw(`ALTER TABLE device_codes DROP COLUMN request_address`)
      await place.raw(`INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, expire_time, interval_seconds, last_poll_time, subject_uid, auth_time, denied, consumed)
        VALUES ('dc-old', 'BCDFGHJK', 'postern-cli', 'openid', 1700000000080, 5, NULL, NULL, NULL, 0, 0)`)
      const migrated = await place.open()
      expect(await migrated.getDeviceCodeByUserCode('BCDFGHJK')).toEqual(aDeviceCode({ deviceCodeHash: 'dc-old', userCode: 'BCDFGHJK', scope: 'openid', requestTime: null, requestAddress: null, loginHint: null }))
      const fresh = aDeviceCode()
      expect(await migrated.insertDeviceCode(fresh)).toBe(true)
      expect(await migrated.getDeviceCode(fresh.deviceCodeHash)).toEqual(fresh)
    })

    it('device codes stored before schema version 13 come through its migration asking for no account', async () => {
      const place = await freshPlace()
      await (await place.open()).close()
      // The table as schema version 12 had it, with a pending code in it.
      await place.raw(`DELETE FROM schema_migrations WHERE version = 13`)
      await place.raw(`ALTER TABLE device_codes DROP COLUMN login_hint`)
      await place.raw(`INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, expire_time, interval_seconds, last_poll_time, subject_uid, auth_time, denied, consumed,
          request_time, request_address)
        VALUES ('dc-old', 'BCDFGHJK', 'postern-cli', 'openid', 1700000000080, 5, NULL, NULL, NULL, 0, 0, 1700000000020, '203.0.113.7')`)
      const migrated = await place.open()
      expect(await migrated.getDeviceCodeByUserCode('BCDFGHJK')).toEqual(aDeviceCode({ deviceCodeHash: 'dc-old', userCode: 'BCDFGHJK', scope: 'openid', loginHint: null }))
      const fresh = aDeviceCode()
      expect(await migrated.insertDeviceCode(fresh)).toBe(true)
      expect(await migrated.getDeviceCode(fresh.deviceCodeHash)).toEqual(fresh)
      const approved = { ...fresh, subjectUid: 'uid-ann', authTime: 1_700_000_000_030 }
      await migrated.updateDeviceCode(approved)
      expect(await migrated.getDeviceCode(fresh.deviceCodeHash)).toEqual(approved)
    })

    it('service accounts stored before schema version 14 come through its migration with an empty description', async () => {
      const place = await freshPlace()
      await (await place.open()).close()
      // The table as schema version 13 had it, with an account in it.
      await place.raw(`DELETE FROM schema_migrations WHERE version = 14`)
      await place.raw(`ALTER TABLE service_accounts DROP COLUMN description`)
      await place.raw(`INSERT INTO service_accounts (email, project_id, uid, display_name, disabled, create_time)
        VALUES ('old@my-project.iam.postern.internal', 'my-project', 'uid-old', 'Old robot', 0, 1700000000030)`)
      const migrated = await place.open()
      expect(await migrated.getServiceAccount('old@my-project.iam.postern.internal')).toEqual(aServiceAccount({
        email: 'old@my-project.iam.postern.internal', uid: 'uid-old', displayName: 'Old robot', description: '', disabled: false,
      }))
    })

    it('refuses a database whose schema is newer than this code, saying what to do', async () => {
      const place = await freshPlace()
      await (await place.open()).close()
      await place.raw(`INSERT INTO schema_migrations (version, name, applied_time) VALUES (9999, 'from the future', 0)`)
      await expect(place.open()).rejects.toThrow(/newer than this Postern understands.*upgrade Postern/)
    })

    it('the feed mark of a database that lost its tables says so, rather than failing as an unreachable one does', async () => {
      const place = await freshPlace()
      const store = await place.open()
      await store.recordChange('user', 'before-the-drop')
      await place.raw(`DROP TABLE installation`)
      await place.raw(`DROP TABLE changes`)
      const empty = { installation: '', latest: 0, noSchema: true }
      expect(await store.feedMark()).toEqual(empty)
      expect(await store.feedMark(1)).toEqual(empty)
    })

    it('the view mark moves with any row written to a table the view is loaded from, however it gets there, and not with the rest', async () => {
      const place = await freshPlace()
      const store = await place.open()
      let last = await store.viewMark()
      expect(last).toEqual({ digest: expect.any(String), incomplete: [] })
      /** Whether the mark moved since the last call. */
      const moved = async () => {
        const now = await store.viewMark()
        const did = now.digest !== last.digest
        last = now
        return did
      }
      // Written without a change on the feed, as a restore copies rows in.
      const service = aService()
      await store.insertService(service)
      expect(await moved()).toBe(true)
      // As many rows as before, rewritten: the changing columns tell.
      expect(await store.updateService({ ...service, updateTime: service.updateTime + 1, etag: 'another-etag' }, service.etag)).toBe(true)
      expect(await moved()).toBe(true)
      expect(await store.putPolicy('projects/my-project', aPolicy('user:ann@example.com'), 'etag-1', EMPTY_ETAG)).toBeDefined()
      expect(await moved()).toBe(true)
      await store.insertUser(aUser())
      expect(await moved()).toBe(true)
      const account = aServiceAccount({ disabled: false })
      await store.insertServiceAccount(account)
      expect(await moved()).toBe(true)
      expect(await store.updateServiceAccount({ ...account, disabled: true })).toBe(true)
      expect(await moved()).toBe(true)
      const group = aGroup()
      await store.insertGroup(group)
      expect(await moved()).toBe(true)
      await store.addMembership({ group: group.email, member: 'user:ann@example.com' })
      expect(await moved()).toBe(true)
      const pool = aWorkforcePool()
      await store.insertWorkforcePool(pool)
      expect(await moved()).toBe(true)
      await store.insertWorkforceProvider(aWorkforceProvider(pool.poolId))
      expect(await moved()).toBe(true)
      expect(await store.insertSigningKey(aSigningKey(), 0)).toBe(true)
      expect(await moved()).toBe(true)
      // What no process loads into its view does not move it (sessions, audit, the feed itself).
      await store.insertSession(aSession())
      await store.appendAudit({ time: 1, principal: 'user:ann@example.com', method: 'm', resource: 'r', outcome: 'OK', details: {} })
      await store.recordChange('user', 'ann@example.com')
      expect(await moved()).toBe(false)

      await place.raw(`DROP TABLE policies`)
      expect(await store.viewMark()).toEqual({ digest: '', incomplete: ['policies'] })
    })
  })
}
