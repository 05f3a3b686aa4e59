import { afterEach, describe, expect, inject, it } from 'vitest'
import { ChangeFollower, type FollowerOptions } from '../../src/directory/change-follower.js'
import type { Change } from '../../src/store/records.js'
import type { Store } from '../../src/store/store.js'
import { postgres, sqlite, type Backend, type Place } from './backends.js'

/**
 * The change follower against real stores, where what it meets is set up with SQL from outside
 * (a database replaced under it), as an operator would do it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function followerTests(backend: Backend): void {
  let place: Place | undefined
  afterEach(async () => {
    await place?.cleanup()
    place = undefined
  })

  const follow = async (o: Partial<FollowerOptions>) => {
    place = await backend.fresh()
    const store: Store = await place.open()
    const seen = { rewritten: [] as string[], applied: [] as Change[], reloads: 0 }
    const follower = new ChangeFollower(store, {
      pollMs: 60_000,
      clock: Date.now,
      onError: () => undefined,
      onChanges: async (changes) => void seen.applied.push(...changes),
      onRewritten: (reason) => void seen.rewritten.push(reason),
      reload: async () => void seen.reloads++,
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
}

describe('change follower on SQLite', () => followerTests(sqlite))
describe.skipIf(!inject('postgres'))('change follower on PostgreSQL', () => followerTests(postgres))
