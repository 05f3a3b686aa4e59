import { afterEach, describe, expect, inject, it } from 'vitest'
import { ChangeFollower, type FollowerOptions } from '../../src/directory/change-follower.js'
import type { Change } from '../../src/store/records.js'
import type { Store } from '../../src/store/store.js'
import { postgres, sqlite, type Backend, type Place } from './backends.js'
import { TO_SCHEMA_VERSION_10 } from '../support/schema-version-10.js'
import { aService } from './fixtures.js'

/**
 * The change follower against real stores, where what it meets is set up with SQL from outside
 * (a database replaced under it), as an operator would do it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Makes the database what a backup of schema version 10 restored in its place looks like. */
async function asSchemaVersion10(place: Place): Promise<void> {
  for (const statement of TO_SCHEMA_VERSION_10) await place.raw(statement)
}

function followerTests(backend: Backend): void {
  let place: Place | undefined
  afterEach(async () => {
    await place?.cleanup()
    place = undefined
  })

  const follow = async (o: Partial<FollowerOptions>) => {
    place = await backend.fresh()
    const store: Store = await place.open()
    const seen = { rewritten: [] as string[], applied: [] as Change[], reloads: 0, settling: [] as string[], caughtUp: 0 }
    const follower = new ChangeFollower(store, {
      pollMs: 60_000,
      clock: Date.now,
      onError: () => undefined,
      onChanges: async (changes) => void seen.applied.push(...changes),
      onRewritten: (reason) => void seen.rewritten.push(reason),
      reload: async () => void seen.reloads++,
      onSettling: (why) => void seen.settling.push(why),
      onCaughtUp: () => void seen.caughtUp++,
      onMigrated: () => undefined,
      ...o,
    })
    await follower.startFrom()
    return { store, follower, seen, place }
  }

  it('a reload slower than the run deadline completes, and the new database is followed from then on', async () => {
    let reloads = 0
    const { store, follower, seen, place } = await follow({
      runDeadlineMs: 100,
      reload: async () => {
        await sleep(400)
        reloads++
      },
    })
    await place.raw(`UPDATE installation SET id = 'another-database'`)
    // Before the fix, this rejected after 100 ms and every later catch-up began the reload again.
    await follower.catchUp()
    expect(reloads).toBe(1)
    expect(seen.rewritten).toEqual([expect.stringMatching(/not the one this process loaded/)])

    await store.recordChange('service', 'after-the-reload')
    await follower.catchUp()
    expect(reloads).toBe(1)
    expect(seen.applied.map((c) => c.key)).toEqual(['after-the-reload'])
  })

  it('the deadline still bounds what follows a reload', async () => {
    const f = await follow({
      runDeadlineMs: 100,
      // A change made during the reload is applied after it, and here applying it never ends.
      reload: () => f.store.recordChange('service', 'during-the-reload'),
      onChanges: () => new Promise<void>(() => undefined),
    })
    await f.place.raw(`UPDATE installation SET id = 'another-database'`)
    await expect(f.follower.catchUp()).rejects.toThrow(/took over 100 ms/)
  })

  it('after a rewrite, rows copied in later without a change (a restore committed table by table) bring another reload; trusted only once the database stayed quiet', async () => {
    const { store, follower, seen, place } = await follow({ settleMs: 400 })
    await follower.catchUp()
    expect(seen.caughtUp).toBe(1)

    // The restore got as far as the installation id: the follower reloads from what is there so far.
    await place.raw(`UPDATE installation SET id = 'restored-database'`)
    await follower.catchUp()
    expect(seen.reloads).toBe(1)
    expect(seen.caughtUp).toBe(1)
    expect(seen.settling).toEqual([expect.stringMatching(/waiting until the database has stayed unchanged for 0.4 s/)])

    // Then it copies in the services, with no change on the feed: before the fix the reloaded
    // view, without them, was trusted at once and kept until each service changed again.
    await store.insertService(aService())
    await follower.catchUp()
    expect(seen.reloads).toBe(2)
    expect(seen.caughtUp).toBe(1)
    expect(seen.settling.at(-1)).toMatch(/changed again after the reload/)
    await follower.catchUp()
    expect(seen.reloads).toBe(2)
    expect(seen.caughtUp).toBe(1)

    // Quiet for the settle period: trusted, and no longer compared.
    await sleep(450)
    await follower.catchUp()
    expect(seen.reloads).toBe(2)
    expect(seen.caughtUp).toBe(2)
    await store.insertService(aService())
    await follower.catchUp()
    expect(seen.reloads).toBe(2)
    expect(seen.caughtUp).toBe(3)
  })

  it('after a rewrite, a view table missing or without its primary key (a restore still copying data in) keeps the view untrusted however long it takes', async () => {
    const { follower, seen, place } = await follow({ settleMs: 200 })
    // pg_dump adds primary keys after all the data; SQLite declares them with the table, so there the table is missing.
    const [take, giveBack] = backend.name === 'postgres'
      ? ['ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_pkey', 'ALTER TABLE signing_keys ADD PRIMARY KEY (kid)']
      : ['ALTER TABLE signing_keys RENAME TO signing_keys_away', 'ALTER TABLE signing_keys_away RENAME TO signing_keys']
    await place.raw(take)
    await place.raw(`UPDATE installation SET id = 'restored-database'`)
    await follower.catchUp()
    expect(seen.reloads).toBe(1)
    await sleep(300)
    await follower.catchUp()
    expect(seen.caughtUp).toBe(0)
    expect(seen.settling.at(-1)).toMatch(/tables are missing or have no primary key yet \(a restore still copying data in\?\): signing_keys$/)

    await place.raw(giveBack)
    await follower.catchUp()
    // What was read before the table was whole is read again.
    expect(seen.reloads).toBe(2)
    expect(seen.caughtUp).toBe(0)
    await sleep(250)
    await follower.catchUp()
    expect(seen.caughtUp).toBe(1)
    expect(seen.reloads).toBe(2)
  })

  it('an older Postern\'s installation restored in place of the view (before the installation id) is migrated once it has stayed so, then reloaded and followed', async () => {
    const migrated: number[] = []
    const { store, follower, seen, place } = await follow({ settleMs: 200, onMigrated: (from) => void migrated.push(from) })
    await place.raw(`INSERT INTO policies (resource, policy, etag) VALUES ('organizations/local', '{"version":1,"bindings":[]}', 'etag-1')`)
    await asSchemaVersion10(place)
    await follower.catchUp()
    expect(seen.rewritten).toEqual([expect.stringMatching(/no Postern schema/)])
    expect(seen.settling.at(-1)).toMatch(/schema version 10, an older Postern's; migrating it once it has stayed so for 0.2 s/)
    expect({ migrated, reloads: seen.reloads }).toEqual({ migrated: [], reloads: 0 })

    await sleep(250)
    await follower.catchUp()
    expect({ migrated, reloads: seen.reloads }).toEqual({ migrated: [10], reloads: 1 })
    expect((await store.feedMark()).installation).not.toBe('')
    // Then as after any replacement: trusted once quiet, and followed.
    await sleep(250)
    await follower.catchUp()
    expect(seen.caughtUp).toBe(1)
    await store.recordChange('service', 'after-the-migration')
    await follower.catchUp()
    expect(seen.applied.map((c) => c.key)).toContain('after-the-migration')
    expect(migrated).toEqual([10])
  })

  it('a reload that finds nothing this process can serve from leaves the view untrusted, and the next run tries again', async () => {
    let servable = false
    let tries = 0
    const { follower, seen, place } = await follow({
      settleMs: 50,
      reload: async () => {
        tries++
        if (!servable) return false
        seen.reloads++
      },
    })
    await place.raw(`UPDATE installation SET id = 'another-installation'`)
    await follower.catchUp()
    await sleep(80)
    await follower.catchUp()
    expect({ tries, reloads: seen.reloads, caughtUp: seen.caughtUp }).toEqual({ tries: 2, reloads: 0, caughtUp: 0 })
    expect(seen.rewritten).toHaveLength(1)

    servable = true
    await follower.catchUp()
    await sleep(80)
    await follower.catchUp()
    expect({ tries, reloads: seen.reloads, caughtUp: seen.caughtUp }).toEqual({ tries: 3, reloads: 1, caughtUp: 1 })
  })

  it('a database being filled by a restore of an older backup is not migrated: only a whole installation is', async () => {
    const migrated: number[] = []
    const { follower, seen, place } = await follow({ settleMs: 50, onMigrated: (from) => void migrated.push(from) })
    // No organization policy yet: the restore has not copied the policies in.
    await asSchemaVersion10(place)
    for (let i = 0; i < 3; i++) {
      await follower.catchUp()
      await sleep(80)
    }
    expect({ migrated, reloads: seen.reloads, caughtUp: seen.caughtUp }).toEqual({ migrated: [], reloads: 0, caughtUp: 0 })
  })
}

describe('change follower on SQLite', () => followerTests(sqlite))
describe.skipIf(!inject('postgres'))('change follower on PostgreSQL', () => followerTests(postgres))
