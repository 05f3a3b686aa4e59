import { afterAll, beforeAll, describe, expect, inject } from 'vitest'
import type { Store } from '../../src/store/store.js'
import { postgres, sqlite, type Backend, type Place } from './backends.js'
import { accessContract } from './contract/access.js'
import { journalContract } from './contract/journal.js'
import { lifecycleContract } from './contract/lifecycle.js'
import { oauthContract } from './contract/oauth.js'
import { principalsContract } from './contract/principals.js'
import { resourcesContract } from './contract/resources.js'
import { transactionsContract } from './contract/transactions.js'
import { workforceContract } from './contract/workforce.js'

/**
 * The Store contract (src/store/store.ts), run against every implementation. A behaviour that
 * one backend has and the other lacks is a bug in that backend, not a reason to fork the test.
 * Most tests share one store per backend and use unique keys; tests about global state (signing
 * keys, purging, the change feed, crashes, migrations) get an empty database of their own.
 */
function contract(backend: Backend): void {
  let place: Place
  let store: Store
  beforeAll(async () => {
    place = await backend.fresh()
    store = await place.open()
  })
  afterAll(async () => {
    const errors = place?.errors ?? []
    await place?.cleanup()
    expect(errors).toEqual([])
  })

  const c = { backend, store: () => store }
  resourcesContract(c)
  principalsContract(c)
  workforceContract(c)
  accessContract(c)
  oauthContract(c)
  journalContract(c)
  transactionsContract(c)
  lifecycleContract(c)
}

describe('sqlite', () => contract(sqlite))

// Without a reachable server the global setup has already warned loudly (or failed, under CI=true).
describe.skipIf(!inject('postgres'))('postgres', () => contract(postgres))
